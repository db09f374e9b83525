"""Ray Tune sweeps: the sweep driver, its config, and the code that runs in a Tune trial."""
