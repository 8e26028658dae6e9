"""Small training functions and MLflow queries shared by the platform tests."""
from __future__ import annotations

from mlflow.tracking import MlflowClient


def runs_of(uri: str, experiment: str) -> tuple:
    """(parent run, child runs) of the job tracked under ``experiment``."""
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no MLflow experiment {experiment!r}"
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, f"expected one parent run, got {len(parents)}"
    parent = parents[0]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    return client, parent, children
