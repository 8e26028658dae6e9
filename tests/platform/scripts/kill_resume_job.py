"""A job that a test kills mid-run (``run``) and then resumes (``resume``); prints a JSON summary."""
import json
import os
import sys
import time

from ray import tune

import tunestack as ts

mode, base, searcher = sys.argv[1], sys.argv[2], sys.argv[3]
scheduler = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] != "fifo" else None
marks = os.path.join(base, "completions.txt")


@ts.tunable(space={"x": tune.uniform(-1.0, 1.0), "y": tune.uniform(-1.0, 1.0), "marks": marks},
            metric="loss")
def train(config):
    start = 0
    ckpt = ts.load_checkpoint()
    if ckpt is not None:
        start = ckpt["epoch"] + 1
    for epoch in range(start, 4):
        time.sleep(0.3)
        ts.report(loss=config["x"] ** 2 + config["y"] ** 2 + 1.0 / (epoch + 1), checkpoint={"epoch": epoch})
    with open(config["marks"], "a") as f:
        f.write(json.dumps([config["x"], config["y"]]) + "\n")


uri = f"sqlite:///{base}/mlflow.db"
if mode == "run":
    train.tune(searcher=searcher, scheduler=scheduler, max_budget=4, eta=2, num_samples=10,
               max_concurrent=2, seed=0, name="killme", storage_path=base, tracking_uri=uri)
else:
    result = train.resume(os.path.join(base, "killme"))
    told = [r for r in result.coordinator.searcher.trials.values() if r.results]
    print(result.table.to_string())
    print("SUMMARY " + json.dumps({
        "statuses": result.table["status"].tolist(), "n_told": len(told),
        "budgets": result.table["budget"].tolist(),
        "scheduler": None if result.coordinator.scheduler is None else result.coordinator.scheduler.name,
        "searcher": result.coordinator.searcher.name, "tracking_uri": result.tracking_uri,
        "interrupted": result.interrupted,
        "best_value": result.best_value}))
