"""``landmarkgait report``: the paper-style results table of a sweep or an experiment, from MLflow.

Runs in the CLI process: ``collect`` reads the finished runs, ``baseline`` adds the GEI row (its
own MLflow run), ``tables`` and ``charts`` render, ``write`` puts the files in place atomically and
logs them to the sweep run.
"""
