"""The orchestration layer: CLI, pipeline and sweep drivers, Ray Train worker code, MLflow tracking.

See ``pipelines/README.md`` for the flow CLI -> config -> plan -> Ray Train worker -> MLflow.
"""
