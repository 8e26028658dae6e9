"""Shared fixtures: one local Ray per test session, one MLflow store per test session."""
from __future__ import annotations

import os
import sys

import pytest

# the tests import helpers as ``tests.spaces``
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def ray_local():
    """A local Ray with 4 logical CPUs and 4 logical GPUs, shared by every integration test."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=4, num_gpus=4, include_dashboard=False, logging_level="WARNING",
                 log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory):
    """A real MLflow SQLite store in a temporary directory (created once: its migrations are slow)."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"
    MlflowClient(tracking_uri=uri).search_experiments()
    return uri
