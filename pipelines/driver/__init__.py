"""Code that runs in the CLI's process: plan stages against MLflow, start Ray, run the Ray Train job, summarise."""
