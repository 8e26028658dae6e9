"""Kill the driver mid-job, resume through tunestack's entry point: nothing lost, nothing repeated."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.platform.helpers import runs_of
from tunestack.searchers import available

pytestmark = [pytest.mark.ray, pytest.mark.slow]
SCRIPT = Path(__file__).parent / "scripts" / "kill_resume_job.py"
ROOT = Path(__file__).parents[2]


def _run(args, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], cwd=str(ROOT), env=env, **kw)


@pytest.mark.parametrize("searcher", [s for s in ("random", "tpe", "rfbo") if s in available()])
def test_kill_driver_and_resume(tmp_path, searcher):
    marks = tmp_path / "completions.txt"
    job = _run(["run", str(tmp_path), searcher], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
               start_new_session=True)
    deadline = time.time() + 600
    while time.time() < deadline:
        if marks.exists() and len(marks.read_text().splitlines()) >= 3:
            break
        assert job.poll() is None, "the job ended before it could be killed"
        time.sleep(0.1)
    os.killpg(job.pid, signal.SIGKILL)  # the driver and the local Ray it started
    job.wait()
    before = marks.read_text().splitlines()
    assert 3 <= len(before) < 10

    resumed = _run(["resume", str(tmp_path), searcher], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   text=True)
    out, err = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, err[-3000:]
    summary = json.loads(next(line for line in out.splitlines() if line.startswith("SUMMARY "))[8:])
    after = marks.read_text().splitlines()
    assert after[:len(before)] == before
    assert len(after) == 10, f"{len(after)} completions for 10 trials (lost or repeated)"
    assert len(set(after)) == 10, "a trial ran to completion twice"
    assert summary["statuses"] == ["completed"] * 10
    assert summary["n_told"] == 10 and summary["searcher"] == searcher
    _, parent, children = runs_of(summary["tracking_uri"], "killme")
    assert len(children) == 10, "a trial was tracked twice (or not at all)"
    assert parent.info.status == "FINISHED"
    assert all(c.info.status == "FINISHED" for c in children)
