"""The one facade over MLflow: runs, tags, metrics, artifacts and the queries that find them."""
