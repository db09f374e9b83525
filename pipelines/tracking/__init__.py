"""The one facade over MLflow; no other package imports ``mlflow``.

``tracker.Tracker`` writes runs, finds them by name of what it looks for, fetches artifacts and
logs the final model; ``records.RunRecord`` is what callers read of a run; ``tags`` names the
tags landmarkgait writes; ``filters`` builds every search filter string; ``location`` resolves
and checks the tracking URI; ``reachability`` bounds how long a server outage is ridden out;
``finished_runs`` checks that a run reference names a finished stage run of the stages wanted;
``run_names`` finds runs by the name the MLflow UI shows.
"""
