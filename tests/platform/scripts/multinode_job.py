"""A job on a Ray cluster of one head (no CPUs) and two worker nodes; prints where trials ran."""
import json
import sys
import time

import ray
from ray import tune
from ray.cluster_utils import Cluster

import tunestack as ts

base = sys.argv[1]
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
workers = [cluster.add_node(num_cpus=1), cluster.add_node(num_cpus=1)]
cluster.wait_for_nodes()


@ts.tunable(space={"x": tune.uniform(0, 1)}, metric="loss")
def where(config):
    # A barrier: each trial waits (up to 60 s) until two trials have started. With one CPU per worker node
    # two running trials are on two nodes, so a loaded machine (a second node's raylet slow to report,
    # the first node's reused actor running every trial in turn) cannot make the check pass or fail by
    # timing; a scheduler that never runs two at once still fails it.
    import pathlib
    import uuid

    started = pathlib.Path(base) / "started"
    started.mkdir(exist_ok=True)
    (started / uuid.uuid4().hex).touch()
    deadline = time.time() + 60
    while len(list(started.iterdir())) < 2 and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    ts.report(loss=config["x"], node=ray.get_runtime_context().get_node_id())


result = where.tune(num_samples=6, seed=0, address=cluster.address, storage_path=base,
                    tracking_uri=f"sqlite:///{base}/mlflow.db", verbose=0)
nodes = []
import os

for d in os.listdir(result.path):
    p = os.path.join(result.path, d, "result.json")
    if os.path.exists(p):
        nodes += [json.loads(line)["node"] for line in open(p) if line.strip()]
print("SUMMARY " + json.dumps({"nodes": nodes, "workers": [w.node_id for w in workers],
                               "statuses": result.table["status"].tolist()}))
ray.shutdown()
cluster.shutdown()
