"""Using a trained recognition run outside training: export, embed datasets, identify walkers.

``trained_run`` loads a finished recognition run's network from MLflow by itself (its resolved
config and checkpoint are artifacts of the run); the other modules build on it.
"""
