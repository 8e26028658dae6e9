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
from tunestack.platform.coordinator import read_journal
from tunestack.platform.tracking import REPLACED
from tunestack.searchers import available

pytestmark = [pytest.mark.ray, pytest.mark.slow]
SCRIPT = Path(__file__).parent / "scripts" / "kill_resume_job.py"
ROOT = Path(__file__).parents[2]


def _run(args, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], cwd=str(ROOT), env=env, **kw)


# random search with fifo is resumed by the Ctrl-C test below; each case here takes about half a minute.
# One model-based searcher with fifo: the resume treats every searcher alike (its JSON state), and each
# searcher's state round trip is in its conformance suite (rfbo-fifo ran here too, until CI neared 20 min)
CASES = [("tpe", "fifo")] if "tpe" in available() else []
CASES += [("random", "asha")] + ([("tpe", "bohb")] if "tpe" in available() else [])


def _journal(job_dir: Path) -> list[str]:
    path = job_dir / "tunestack_journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["ray_id"] for line in path.read_text().splitlines() if line.strip()]


def _reports(job_dir: Path, trial_id: str) -> int:
    """How many results trial ``trial_id`` reported, over the killed and the resumed driver."""
    (d,) = [d for d in job_dir.iterdir() if d.is_dir() and f"_{trial_id}_" in d.name]
    return len((d / "result.json").read_text().splitlines())


def _started(job_dir: Path) -> int:
    return sum(1 for d in job_dir.iterdir() if d.is_dir() and d.name.startswith("train_")) if job_dir.exists() else 0


def _session_pids(sid: int) -> list[int]:
    """Processes of session ``sid``: the driver, its local Ray, and Ray's workers (their own process
    groups, so killpg alone leaves them running for a while)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                pids.append(int(d.name))
    return pids


def _kill_session(sid: int, timeout: float = 60.0) -> None:
    """SIGKILL everything the killed job started (as when its machine dies) and wait until it is gone,
    so that nothing of the killed job still writes to its directory while the resumed one runs."""
    deadline = time.time() + timeout
    while pids := _session_pids(sid):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        assert time.time() < deadline, f"processes of the killed job survive: {pids}"
        time.sleep(0.1)


def _mark(job_dir: Path, trial_id: str) -> str:
    """The line the job's function writes to completions.txt when ended trial ``trial_id`` finished, from
    its configuration in tunestack's journal (Ray's ``params.json`` of an ended trial was once found empty
    after the kill and the resume, 2026-12-06: Ray's file, not what this test checks)."""
    (config,) = [r["config"] for r in read_journal(str(job_dir / "tunestack_journal.jsonl"))
                 if r["ray_id"] == trial_id]
    return json.dumps([config["x"], config["y"]])


def _wait_for(job, ready, what: str = "killed") -> None:
    """Poll until ``ready()`` holds, failing if the job ends first or makes no progress."""
    deadline = time.time() + 600
    while not ready():
        assert job.poll() is None, f"the job ended before it could be {what}"
        assert time.time() < deadline, "the job made no progress in time"
        time.sleep(0.1)


def _kill(job) -> None:
    """SIGKILL the driver, the local Ray it started and Ray's workers."""
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    _kill_session(job.pid)


def _saved_state(job_dir: Path) -> dict | None:
    """Our state as Ray's copy in the job directory holds it; ``None`` while it is missing or cut short."""
    files = list(job_dir.glob("searcher-state-*.pkl")) if job_dir.exists() else []
    if len(files) != 1:
        return None
    try:
        return json.loads(files[0].read_text())
    except (OSError, ValueError):
        return None


def _unfinished(state: dict | None, job_dir: Path) -> bool:
    """Whether ``state`` holds a trial that is neither done nor in the journal."""
    journaled = set(_journal(job_dir))
    return state is not None and any(t["status"] != "done" and rid not in journaled
                                     for rid, t in state["trials"].items())


def _replaced(run) -> bool:
    """Whether an MLflow trial run was ended as replaced by the resume (its suggestion ran again)."""
    return run.data.tags.get("tunestack.reason") == REPLACED


def _restarted(err: str) -> bool:
    """Whether the resume went on as a new Ray run (Ray's saved state was incomplete)."""
    return "goes on as a new Ray run" in err


def _resume(tmp_path: Path, searcher: str, scheduler: str) -> tuple[str, str, dict]:
    """Resume the killed job; (stdout, stderr, the JSON summary it printed)."""
    resumed = _run(["resume", str(tmp_path), searcher, scheduler], stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, text=True)
    out, err = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, err[-3000:]
    return out, err, json.loads(next(line for line in out.splitlines() if line.startswith("SUMMARY "))[8:])


@pytest.mark.parametrize("searcher,scheduler", CASES)
def test_kill_driver_and_resume(tmp_path, searcher, scheduler):
    marks, job_dir = tmp_path / "completions.txt", tmp_path / "killme"
    job = _run(["run", str(tmp_path), searcher, scheduler], stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL, start_new_session=True)
    # FIFO: kill once 3 trials ended; with a scheduler, trials pause at rungs and most end together at
    # the end of the search, so kill once 6 of the 10 trials have started (some paused, some running)
    _wait_for(job, lambda: len(_journal(job_dir)) >= 3 if scheduler == "fifo" else _started(job_dir) >= 6)
    _kill(job)
    ended_before = _journal(job_dir)
    assert len(ended_before) < 10 and (len(ended_before) >= 3 or scheduler != "fifo")
    reports_before = {tid: _reports(job_dir, tid) for tid in ended_before}
    marks_before = marks.read_text().splitlines() if marks.exists() else []

    out, err, summary = _resume(tmp_path, searcher, scheduler)
    ended = _journal(job_dir)
    why = f"ended before the kill: {ended_before}, after: {ended}\n{out[-4000:]}\n{err[-4000:]}"
    assert not summary["interrupted"], why
    assert ended[:len(ended_before)] == ended_before, why
    assert len(ended) == len(set(ended)) == 10, "a trial ended twice, or was lost\n" + why
    for tid, n in reports_before.items():  # trials that had ended were not run again
        assert _reports(job_dir, tid) == n, f"trial {tid} ran again after the resume"
    assert summary["n_told"] == 10 and summary["searcher"] == searcher
    after = marks.read_text().splitlines()
    assert after[:len(marks_before)] == marks_before
    # a trial whose function returned just before the kill, unseen by the driver, may run its last
    # steps again (at least once); a trial the driver had seen end must not
    again = {m for m in after if after.count(m) > 1}
    assert not again & {_mark(job_dir, tid) for tid in ended_before}, "an ended trial ran to completion twice"
    if scheduler == "fifo":
        assert len(set(after)) == 10 and summary["statuses"] == ["completed"] * 10, out[-3000:]
    else:
        assert summary["scheduler"] in ("asha", "hyperband")
        # A stopped trial ends at a rung (1 or 2 with max_budget 4, eta 2). A trial paused before the kill
        # trained on unpromoted after the resume (Ray starts every PENDING trial) until the adapter made
        # such trials PAUSED again (held_paused; this assertion failed for asha and bohb before it); a bohb
        # trial ended at budget 3 in a CI run after that, when our saved state was older than Ray's (see
        # test_resume_when_our_saved_state_is_older_than_rays_trials)
        for status, budget in zip(summary["statuses"], summary["budgets"]):
            assert status == "completed" and budget == 4 or status.startswith("stopped") and budget in (1, 2), why
    _, parent, children = runs_of(summary["tracking_uri"], "killme")
    # a kill during Ray's copy of its state can make the resume a new Ray run (see the test below):
    # the unfinished trials' runs then end as replaced
    kept = [c for c in children if not _replaced(c)]
    assert len(kept) == 10, ("a trial was tracked twice (or not at all)\n"
                             + "\n".join(f"{c.info.status} {c.data.tags}" for c in children) + "\n" + why)
    assert len(kept) == len(children) or _restarted(err), [c.data.tags for c in children]
    children = kept
    assert parent.info.status == "FINISHED"
    finished = sum(c.info.status == "FINISHED" for c in children)
    assert finished == summary["statuses"].count("completed")
    assert all(c.info.status in ("FINISHED", "KILLED") for c in children)


def test_resume_stops_a_ray_trial_our_state_never_saw_and_still_runs_all(tmp_path):
    """Ray copies its trial list and our state to the job directory one by one; a kill between the two
    leaves Ray holding a trial that our state never suggested.  The resume stops that trial and still
    runs num_samples trials of its own (a CI run lost one here: Ray had counted the stopped trial)."""
    # The scenario needs Ray's copy of our state in the job directory whole after the kill; Ray copies it
    # in a background thread, and a kill during a copy leaves it empty (a CI run: that case is
    # test_resume_when_the_kill_cut_rays_copy_of_its_state_short's).  Kill once a whole copy holds an
    # unfinished trial, and start again in a fresh directory if the kill still caught a copy midway.
    for attempt in range(3):
        root = tmp_path / f"attempt{attempt}"
        job_dir = root / "killme"
        job = _run(["run", str(root), "random", "fifo"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, start_new_session=True)
        _wait_for(job, lambda: len(_journal(job_dir)) >= 3 and _unfinished(_saved_state(job_dir), job_dir))
        _kill(job)
        state = _saved_state(job_dir)
        if state is not None:
            break
    assert state is not None, "each of 3 kills caught Ray copying our state"
    tmp_path = root
    (state_file,) = job_dir.glob("searcher-state-*.pkl")
    # our state as it was before the suggestion of one unfinished trial that Ray's snapshot holds
    journaled = set(_journal(job_dir))
    forgotten = [rid for rid, t in state["trials"].items() if t["status"] != "done" and rid not in journaled]
    assert forgotten, f"no unfinished trial in the saved state: {state['trials']}"
    rid = forgotten[-1]
    sid = state["trials"].pop(rid)["sid"]
    state["searcher"]["trials"] = [r for r in state["searcher"]["trials"] if r["id"] != sid]
    state["resume_queue"] = [r for r in state["resume_queue"] if r != rid]
    state_file.write_text(json.dumps(state))
    # a trial the killed driver had started, and tracked, after Ray's last snapshot: no saved state holds
    # it, only its MLflow run (left RUNNING by the kill; a CI run ended it as a KILLED 11th trial)
    mlflow_client, parent, _ = runs_of(f"sqlite:///{root}/mlflow.db", "killme")
    phantom = mlflow_client.create_run(parent.info.experiment_id, run_name="train_0badf00d", tags={
        "mlflow.parentRunId": parent.info.run_id, "tunestack.trial_id": "0badf00d"}).info.run_id

    out, err, summary = _resume(tmp_path, "random", "fifo")
    ended = _journal(job_dir)
    why = f"forgotten: {rid}, ended: {ended}\n{out[-4000:]}\n{err[-4000:]}"
    assert rid not in ended, why
    assert len(ended) == len(set(ended)) == 10 and summary["statuses"] == ["completed"] * 10, why
    assert summary["n_told"] == 10 and not summary["interrupted"], why
    _, parent, children = runs_of(summary["tracking_uri"], "killme")
    (phantom_run,) = [c for c in children if c.info.run_id == phantom]
    assert phantom_run.info.status == "KILLED" and _replaced(phantom_run), phantom_run.data.tags
    children = [c for c in children if c.info.run_id != phantom]
    replaced = [c for c in children if c.data.tags.get("tunestack.status") == "stopped" and _replaced(c)]
    assert parent.info.status == "FINISHED"
    assert len(children) - len(replaced) == 10, [c.data.tags for c in children]
    assert len(replaced) <= 1 or _restarted(err), [c.data.tags for c in children]


def _checkpoint_budgets(job_dir: Path) -> dict[str, int]:
    """Trial id -> the training iteration of the checkpoint each trial holds on disk (Ray keeps one)."""
    out = {}
    for d in job_dir.iterdir():
        if d.is_dir() and d.name.startswith("train_") and (d / "result.json").exists():
            on_disk = {c.name for c in d.glob("checkpoint_*")}
            for line in (d / "result.json").read_text().splitlines():
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if r.get("checkpoint_dir_name") in on_disk:
                    out[r["trial_id"]] = r["training_iteration"]
    return out


def test_resume_when_our_saved_state_is_older_than_rays_trials(tmp_path):
    """Ray writes a snapshot to its staging directory even while its background copy of the last one to
    the job directory runs, so the job directory can hold its trial list from one snapshot and our state
    from an older one.  A trial's checkpoint can then be past budgets whose reports our state never saw
    (a rung among them): resumed from there, its next report reached the scheduler past its rung, and it
    ended "stopped early" between rungs (bohb at budget 3 in a CI run).  It restarts from a point our
    state knows instead, and every trial ends at a rung."""
    job_dir = tmp_path / "killme"
    job = _run(["run", str(tmp_path), "tpe", "bohb"], stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL, start_new_session=True)
    copies = []  # our state as the job directory held it, oldest first

    def keep_copies() -> bool:
        state = _saved_state(job_dir)
        if state is not None and (not copies or copies[-1] != state):
            copies.append(state)
        return _started(job_dir) >= 6

    _wait_for(job, keep_copies)
    _kill(job)
    # the newest copy in which some unfinished trial is behind its checkpoint on disk (a Ray trial that the
    # copy does not hold is the case of the test above, and is stopped)
    on_disk, journaled = _checkpoint_budgets(job_dir), set(_journal(job_dir))
    behind = lambda st: [rid for rid, t in st["trials"].items() if t["status"] != "done" and rid not in journaled
                         and on_disk.get(rid, 0) > t["budget"]]
    older = [st for st in copies if behind(st)]
    assert older, f"no saved copy of our state is behind a checkpoint: {on_disk} {[c['trials'] for c in copies]}"
    (state_file,) = job_dir.glob("searcher-state-*.pkl")
    state_file.write_text(json.dumps(older[-1]))

    out, err, summary = _resume(tmp_path, "tpe", "bohb")
    ended = _journal(job_dir)
    why = f"behind: {behind(older[-1])}, checkpoints: {on_disk}\n{out[-4000:]}\n{err[-4000:]}"
    assert len(ended) == len(set(ended)) == 10 and summary["n_told"] == 10, why
    for status, budget in zip(summary["statuses"], summary["budgets"]):
        assert status == "completed" and budget == 4 or status.startswith("stopped") and budget in (1, 2), why
    assert "past what the job's saved state knows" in err, why


@pytest.mark.parametrize("scheduler,missing", [
    ("fifo", ("search_gen_state-*",)),  # Ray restores its trials but neither its search algorithm nor ours
    ("asha", ("search_gen_state-*", "searcher-state-*", "experiment_state-*")),  # nothing of Ray's: the journal
    ("bohb", ("empty:experiment_state-*",)),  # cut short (a local run: Ray started over, the resume hung)
])
def test_resume_when_the_kill_cut_rays_copy_of_its_state_short(tmp_path, scheduler, missing):
    """Ray copies its state files to the job directory in a background thread; a driver killed during
    a copy leaves some of them missing or empty (in a CI run Ray then restored its trials but not the
    search, and the resumed job ran one trial; in a local run, its experiment state empty, Ray started
    over and the resume hung).  The job goes on as a new Ray run from our state and journal: nothing
    that ended is lost or run again, and the job still ends with num_samples trials."""
    job_dir = tmp_path / "killme"
    job = _run(["run", str(tmp_path), "random", scheduler], stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL, start_new_session=True)
    _wait_for(job, lambda: len(_journal(job_dir)) >= 3)
    _kill(job)
    ended_before = _journal(job_dir)
    reports_before = {tid: _reports(job_dir, tid) for tid in ended_before}
    for pattern in missing:
        for path in job_dir.glob(pattern.removeprefix("empty:")):
            if pattern.startswith("empty:"):
                path.write_text("")
            else:
                path.unlink()

    out, err, summary = _resume(tmp_path, "random", scheduler)
    ended = _journal(job_dir)
    why = f"ended before the kill: {ended_before}, after: {ended}\n{out[-4000:]}\n{err[-4000:]}"
    assert _restarted(err), why
    assert ended[:len(ended_before)] == ended_before and len(ended) == len(set(ended)) == 10, why
    for tid, n in reports_before.items():
        assert _reports(job_dir, tid) == n, f"trial {tid} ran again after the resume"
    assert summary["n_told"] == 10 and not summary["interrupted"], why
    if scheduler == "fifo":
        assert summary["statuses"] == ["completed"] * 10, why
    for status, budget in zip(summary["statuses"], summary["budgets"]):
        assert status == "completed" and budget == 4 or status.startswith("stopped") and budget < 4, why
    _, parent, children = runs_of(summary["tracking_uri"], "killme")
    assert parent.info.status == "FINISHED"
    assert all(c.info.status in ("FINISHED", "KILLED") for c in children), [c.data.tags for c in children]
    replaced = [c for c in children if _replaced(c)]
    assert len(children) - len(replaced) == 10, [c.data.tags for c in children]


def test_ctrl_c_ends_the_job_resumably(tmp_path):
    """A first Ctrl-C lets Ray stop the run gracefully (no KeyboardInterrupt reaches tunestack): the job
    says it was interrupted and how to resume, MLflow marks it KILLED, and the resume finishes it."""
    marks, job_dir = tmp_path / "completions.txt", tmp_path / "killme"
    job = _run(["run", str(tmp_path), "random", "fifo"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
               text=True, start_new_session=True)
    _wait_for(job, lambda: len(_journal(job_dir)) >= 3, "interrupted")
    os.killpg(job.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group, MLflow's writer too
    out, _ = job.communicate(timeout=300)
    _kill_session(job.pid)
    assert job.returncode == 0, out[-3000:]
    assert "interrupted: resume with tunestack.resume(" in out, out[-3000:]
    _, parent, _ = runs_of(f"sqlite:///{tmp_path}/mlflow.db", "killme")
    assert parent.info.status == "KILLED"
    ended_before = _journal(job_dir)
    assert 3 <= len(ended_before) < 10

    out, err, summary = _resume(tmp_path, "random", "fifo")
    ended = _journal(job_dir)
    assert not summary["interrupted"] and summary["statuses"] == ["completed"] * 10, out[-3000:]
    assert ended[:len(ended_before)] == ended_before and len(set(ended)) == len(ended) == 10
    # every function ran to its end: one the Ctrl-C caught between its report at max_budget and its return
    # runs on to its end on the resume (it wrote no mark once, CI 2026-12-07; the coordinator's test
    # test_a_trial_resumed_from_before_its_report_at_max_budget_runs_to_its_end). One caught after its
    # write and before its return writes it twice: its code after the loop runs again, as after any kill
    assert len(set(marks.read_text().splitlines())) == 10
    _, parent, children = runs_of(summary["tracking_uri"], "killme")
    assert parent.info.status == "FINISHED" and len(children) == 10


def test_sigterm_ends_the_job_as_a_ctrl_c_does(tmp_path):
    """A SIGTERM (kill, a batch scheduler's preemption) killed the driver at once, its MLflow parent run
    FAILED.  Now the job stops gracefully, says how to resume, stays KILLED (resumable) in MLflow, and
    then the process ends as the signal asked."""
    job_dir = tmp_path / "killme"
    job = _run(["run", str(tmp_path), "random", "fifo"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
               text=True, start_new_session=True)
    _wait_for(job, lambda: len(_journal(job_dir)) >= 3, "terminated")
    job.send_signal(signal.SIGTERM)  # to the driver only
    out, _ = job.communicate(timeout=300)
    _kill_session(job.pid)
    assert job.returncode != 0, out[-3000:]  # the process still ends on the signal, after the job
    assert "SIGTERM received: the job stops as after a Ctrl-C" in out, out[-3000:]
    assert "interrupted: resume with tunestack.resume(" in out, out[-3000:]
    _, parent, _ = runs_of(f"sqlite:///{tmp_path}/mlflow.db", "killme")
    assert parent.info.status == "KILLED"
    assert 3 <= len(_journal(job_dir)) < 10
