"""Sweeps through real ``sbatch`` on the cluster of scripts/slurm-cluster.sh (``hydra/launcher=slurm``).

(a) a 3-job training sweep: every job's record says done;
(b) a training job preempted by a ``debug-high`` job writes its checkpoint on SIGUSR2, is
    requeued, resumes, and ends with the weights of an uninterrupted run;
(c) a job whose time limit is shorter than its training is requeued on timeout and finishes;
(d) the rerun of a finished sweep submits nothing; after one job's results are deleted, the
    rerun submits exactly that one;
(e) a job killed outright (SIGKILL of its python) is reported failed with its log, and the
    other job's result is kept.

Tiny synthetic data and networks on CPU, one thread per process.  The training lengths are
set from the speed of this machine (measured once) so that a job is still training when
it is preempted or times out.  Skipped without a cluster (``-m "not slurm"`` skips them
too); failed under CI=true.  Some 4 to 6 minutes in all, most of it SLURM's requeue delay.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT, TINY, read_metrics
from slurm_support import cancel, sacct_states, slurm_cluster, submit_wrap, wait_for_file, wait_for_sacct_states

pytestmark = pytest.mark.slurm

#: one thread per process: the same numbers in a SLURM job and in the reference run, and no
#: fight over the node's few cores
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TRAIN = ["model=dcgan", "loss=gan", *TINY, "seed=3"]


@pytest.fixture(scope="module")
def cluster():
    return slurm_cluster()


def launcher(cluster, cpus: int = 1, *more: str) -> list[str]:
    """``hydra/launcher=slurm`` for the test cluster: no GPU, quick polling, a 10-minute limit."""
    return [
        "hydra/launcher=slurm", f"hydra.launcher.partition={cluster.partition}", "hydra.launcher.gpus_per_node=0",
        f"hydra.launcher.cpus_per_task={cpus}", "hydra.launcher.mem_gb=1", "hydra.launcher.poll_s=1",
        "hydra.launcher.timeout_min=10", "hydra.launcher.signal_delay_s=60", "hydra.launcher.dead_after_s=15", *more,
    ]  # fmt: skip


def start(tool: str, *args: str, multirun: bool = True) -> subprocess.Popen:
    cmd = [sys.executable, "-m", f"biogans.{tool}", *(["-m"] if multirun else []), *args]
    return subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **ENV}
    )


def finish(proc: subprocess.Popen, timeout: float = 400) -> tuple[int, str]:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"still running after {timeout} s:\n{out[-4000:]}") from None
    return proc.returncode, out


def sweep_run(tool: str, *args: str, timeout: float = 400) -> tuple[int, str]:
    return finish(start(tool, *args), timeout)


def submissions(sweep: Path) -> dict[str, set[str]]:
    """SLURM job id -> its array task ids (none for a single job), from the submitit folder of a sweep."""
    arrays: dict[str, set[str]] = {}
    for entry in (sweep / ".submitit").iterdir() if (sweep / ".submitit").exists() else []:
        array, _, task = entry.name.partition("_")
        if not array.isdigit():
            continue  # submitit's .submission_file_<uuid>.sh
        arrays.setdefault(array, set())
        if task:
            arrays[array].add(task)
    return arrays


def manifest(sweep: Path) -> dict:
    return json.loads((sweep / "sweep.json").read_text())["jobs"]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout:.0f} s: still waiting for {what}")
        time.sleep(0.25)


def iteration_of(run: Path) -> int:
    try:
        return int(read_metrics(run).get("iteration") or 0)
    except (OSError, ValueError):
        return 0


def settled_states(job_id: int, timeout: float = 60) -> list[str]:
    """The job's sacct states once its last run has ended (records reach the database late)."""
    states: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = sacct_states(job_id)
        if states and states[-1] not in ("RUNNING", "PENDING", "REQUEUED", "COMPLETING"):
            return states
        time.sleep(0.5)
    return states


def weights(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def rate(tmp_path_factory) -> float:
    """Training iterations per second of TRAIN on this machine, one thread (about 10 s to measure)."""
    run = tmp_path_factory.mktemp("rate") / "run"
    code, out = finish(start("train", *TRAIN, "train.iterations=60", "train.log_every=30", f"hydra.run.dir={run}",
                             multirun=False), 300)  # fmt: skip
    assert code == 0, out[-3000:]
    return float(read_metrics(run)["it_per_s"])


# ------------------------------------------------------------------------ (a) and (d)
@pytest.fixture(scope="module")
def finished_sweep(cluster, tmp_path_factory):
    """A 3-job training sweep through sbatch, run to the end."""
    sweep = tmp_path_factory.mktemp("slurm") / "train"
    args = [
        "experiment=paper_dcgan_gan,paper_sep_gan,paper_dcgan_wgangp", *TINY, "train.iterations=3",
        f"hydra.sweep.dir={sweep}", *launcher(cluster),
    ]  # fmt: skip
    code, out = sweep_run("train", *args)
    return sweep, args, code, out


def test_a_training_sweep_runs_every_job_through_slurm(finished_sweep):
    sweep, _, code, out = finished_sweep
    assert code == 0, out[-4000:]
    names = ["paper_dcgan_gan", "paper_dcgan_wgangp", "paper_sep_gan"]
    for name in names:
        record = read_metrics(sweep / name)
        assert (record["status"], record["iteration"]) == ("done", 3), name
        assert (sweep / name / "checkpoints" / "iter_0000003.pt").is_file()
    arrays = submissions(sweep)
    assert len(arrays) == 1 and len(next(iter(arrays.values()))) == 3  # one job array of 3 tasks
    jobs = manifest(sweep)
    assert sorted(jobs) == names and all(j["state"] == "done" and j["slurm_job"] for j in jobs.values())
    (array,) = arrays
    wait_for_sacct_states(int(array), ["COMPLETED"] * 3)  # really run by SLURM, and accounted


def test_d_a_rerun_submits_only_what_is_not_done(finished_sweep):
    sweep, args, code, _ = finished_sweep
    assert code == 0
    before = submissions(sweep)
    code, out = sweep_run("train", *args)
    assert code == 0 and "launching 0 of 3 jobs" in out, out[-3000:]
    assert submissions(sweep) == before  # no sbatch at all

    gone = sweep / "paper_sep_gan"
    for path in [gone / "metrics.json", *(gone / "checkpoints").iterdir()]:
        path.unlink()
    kept = (sweep / "paper_dcgan_gan" / "metrics.json").stat().st_mtime_ns
    code, out = sweep_run("train", *args)
    assert code == 0 and "launching 1 of 3 jobs" in out, out[-3000:]
    new = {k: v for k, v in submissions(sweep).items() if k not in before}
    assert sum(max(1, len(tasks)) for tasks in new.values()) == 1, new  # exactly one job submitted
    assert read_metrics(gone)["status"] == "done"
    assert (sweep / "paper_dcgan_gan" / "metrics.json").stat().st_mtime_ns == kept


# ------------------------------------------------------------------------------- (b)
def test_b_a_preempted_job_resumes_and_ends_with_the_weights_of_an_uninterrupted_run(cluster, rate, tmp_path):
    iterations = max(100, int(rate * 25))  # some 25 s of training: long enough to be caught running
    train = [*TRAIN, f"train.iterations={iterations}", "train.log_every=5", "train.checkpoint_every=1000000",
             "train.checkpoint_at=[]", "train.sample_every=1000000"]  # fmt: skip
    reference = start("train", *train, f"hydra.run.dir={tmp_path / 'reference'}", multirun=False)
    sweep = tmp_path / "sweep"
    # the job asks for every CPU of the node, so the debug-high job can only run by preempting it
    proc = start(
        "train", *train, f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=job", *launcher(cluster, cluster.cpus)
    )
    run = sweep / "job"
    high = None
    try:
        wait_until(lambda: iteration_of(run) >= 5, 180, "the SLURM job to train")
        high = submit_wrap(cluster.high_partition, cluster.cpus, "sleep 3")
        code, out = finish(proc)
        assert code == 0, out[-4000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        if high is not None:
            cancel(high)
    log = (run / "train.log").read_text()
    assert "SIGUSR2 received: wrote" in log, log[-3000:]
    stopped = int(log.split("SIGUSR2 received: wrote")[1].split("at iteration ")[1].split()[0])
    assert 5 <= stopped < iterations
    assert f"from iteration {stopped}" in log  # the requeued job resumed from the signal's checkpoint
    array = manifest(sweep)["job"]["slurm_job"].split("_")[0]
    states = settled_states(int(array))
    assert states[-1] == "COMPLETED" and len(states) >= 2 and set(states[:-1]) <= {"REQUEUED", "PREEMPTED"}, states
    code, out = finish(reference)
    assert code == 0, out[-3000:]
    a, b = weights(tmp_path / "reference" / "checkpoints" / "last.pt"), weights(run / "checkpoints" / "last.pt")
    assert a["iteration"] == b["iteration"] == iterations
    assert same_state(a["generator"], b["generator"]) and same_state(a["critic"], b["critic"])


# ------------------------------------------------------------------------------- (c)
def test_c_a_job_longer_than_its_time_limit_is_requeued_on_timeout_and_finishes(cluster, rate, tmp_path):
    # slurmctld looks at time limits every 30 s and sends the --signal at the first look that
    # is within signal_delay_s + 30 s of the limit: with a 1-minute limit and a 5 s delay, the
    # signal comes 25 to 55 s into each run, so ~100 s of training needs at least two runs
    # (~50 s was not enough once: the rate measured over 60 iterations includes their warm-up,
    # and the job finished in 40 s, before any signal)
    iterations = max(300, int(rate * 100))
    sweep = tmp_path / "sweep"
    args = [*TRAIN, f"train.iterations={iterations}", "train.log_every=5", "train.checkpoint_every=1000000",
            f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=job",
            *launcher(cluster, 1, "hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=5",
                      "hydra.launcher.max_num_timeout=8")]  # fmt: skip
    code, out = sweep_run("train", *args, timeout=600)
    assert code == 0, out[-4000:]
    run = sweep / "job"
    record = read_metrics(run)
    assert (record["status"], record["iteration"]) == ("done", iterations)
    log = (run / "train.log").read_text()
    assert "SIGUSR2 received: wrote" in log and "resuming" in log
    array = manifest(sweep)["job"]["slurm_job"].split("_")[0]
    states = settled_states(int(array))
    assert states[-1] == "COMPLETED" and "REQUEUED" in states[:-1], states
    submitit_log = "\n".join(p.read_text() for p in (sweep / ".submitit").rglob("*_log.err"))
    assert "this job is timed-out" in submitit_log


# ------------------------------------------------------------------------------- (e)
def python_of(slurm_job: str) -> int:
    """The pid of the job's python (submitit's ``_submit``), from ``scontrol listpids``."""
    raw = subprocess.run(["squeue", "-h", "-j", slurm_job, "-o", "%A"], capture_output=True, text=True, check=True)
    listing = subprocess.run(
        ["scontrol", "listpids", raw.stdout.strip()], capture_output=True, text=True, check=True
    ).stdout.split("\n")[1:]
    for line in listing:
        fields = line.split()
        if not fields or not fields[0].isdigit():
            continue
        cmdline = Path(f"/proc/{fields[0]}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        if "submitit.core._submit" in cmdline and "srun" not in cmdline:
            return int(fields[0])
    raise AssertionError(f"no python of job {slurm_job} among {listing}")


def test_e_a_job_killed_outright_is_reported_failed_and_the_others_results_are_kept(cluster, rate, tmp_path):
    iterations = max(60, int(rate * 15))
    sweep = tmp_path / "sweep"
    args = ["experiment=paper_dcgan_gan,paper_sep_gan", *TINY, f"train.iterations={iterations}", "train.log_every=5",
            f"hydra.sweep.dir={sweep}", *launcher(cluster)]  # fmt: skip
    proc = start("train", *args)
    victim = sweep / "paper_sep_gan"
    try:
        wait_for_file(sweep / "sweep.json", timeout=120, text="slurm_job")
        wait_until(lambda: iteration_of(victim) >= 5, 180, "the job to train")
        os.kill(python_of(manifest(sweep)["paper_sep_gan"]["slurm_job"]), signal.SIGKILL)
        code, out = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 1, out[-4000:]
    assert read_metrics(sweep / "paper_dcgan_gan")["status"] == "done"  # the other job's result is kept
    assert read_metrics(victim)["status"] == "running"  # it had no chance to say more
    jobs = manifest(sweep)
    assert jobs["paper_dcgan_gan"]["state"] == "done" and jobs["paper_sep_gan"]["state"] == "failed"
    logs = jobs["paper_sep_gan"]["logs"]
    assert any(".submitit" in log and Path(log).is_file() for log in logs), logs
    failed_lines = [line for line in out.splitlines() if line.strip().startswith("failed") and str(victim) in line]
    assert failed_lines and all(log in failed_lines[-1] for log in logs), out[-3000:]

    from biogans.sweep_status import status

    text, counts = status([sweep])
    assert counts == {"done": 1, "failed": 1}, text
    # the rerun lists it and leaves it alone, unless asked
    code, out = sweep_run("train", *args)
    assert code == 1 and "launching 0 of 2 jobs" in out and "retry_failed=true" in out, out[-3000:]


# ------------------------------------------------------------------------- bad requests
@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("hydra.launcher.partition=no-such-partition", "hydra.launcher.partition=no-such-partition: no such partition"),
        ("hydra.launcher.cpus_per_task=4096", "hydra.launcher.cpus_per_task=4096: no node of partition"),
        ("hydra.launcher.mem_gb=100000", "hydra.launcher.mem_gb=100000: no node of partition"),
        ("hydra.launcher.gpus_per_node=1", "hydra.launcher.gpus_per_node=1: partition"),
    ],
)
def test_a_request_the_cluster_cannot_meet_is_refused_by_name_before_anything_is_written(
    cluster, tmp_path, override, message
):
    sweep = tmp_path / "sweep"
    args = ["experiment=paper_dcgan_gan", *TINY, "train.iterations=2", f"hydra.sweep.dir={sweep}",
            *launcher(cluster), override]  # fmt: skip
    code, out = sweep_run("train", *args, timeout=120)
    assert code == 1 and message in out, out[-3000:]
    assert "Traceback" not in out
    assert not sweep.exists()
