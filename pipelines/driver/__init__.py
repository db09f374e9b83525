"""Code that runs in the CLI's process: plan stages against MLflow, run the Ray Train job, summarise."""
