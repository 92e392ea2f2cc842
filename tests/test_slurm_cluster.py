"""The SLURM cluster of scripts/slurm-cluster.sh does what the other SLURM tests rely on.

Real jobs through real daemons: a job runs and is accounted, requests no node can meet fail
at sbatch, and a debug-high job preempts a debug job, which gets its --signal, is requeued
and runs again.  Skipped without a cluster (failed under CI=true); about 100 s in all, most
of it the two preemptions.
"""

from __future__ import annotations

import shlex
from datetime import datetime
from pathlib import Path

import pytest
from slurm_support import (
    cancel,
    sacct_records,
    sbatch,
    slurm_cluster,
    submit_wrap,
    wait_for_file,
    wait_for_job_state,
    wait_for_sacct_states,
)

pytestmark = pytest.mark.slurm


@pytest.fixture(scope="module")
def cluster():
    return slurm_cluster()


@pytest.fixture
def jobs():
    """Ids of the jobs a test submits; whatever still runs at its end is cancelled."""
    ids: list[int] = []
    yield ids
    for job in ids:
        cancel(job)


def test_batch_job_runs_and_is_accounted(cluster, jobs, tmp_path):
    out = tmp_path / "job_id"
    jobs.append(job := submit_wrap(cluster.partition, 1, f'echo "$SLURM_JOB_ID" > {shlex.quote(str(out))}'))
    wait_for_job_state(job, "COMPLETED", timeout=60)
    assert out.read_text().strip() == str(job)
    wait_for_sacct_states(job, ["COMPLETED"])


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ("too many CPUs", "More processors requested than permitted"),
        ("too much memory", "Memory specification can not be satisfied"),
        ("unknown partition", "invalid partition specified: no-such-partition"),
        ("a GPU", "Invalid generic resource (gres) specification"),
    ],
)
def test_impossible_request_fails_at_sbatch(cluster, jobs, request_, message):
    args = {
        "too many CPUs": ["-c", str(cluster.cpus + 1)],
        "too much memory": [f"--mem={cluster.memory_mb + 1}"],
        "unknown partition": ["-p", "no-such-partition"],
        "a GPU": ["--gres=gpu:1"],
    }[request_]
    with pytest.raises(AssertionError, match="sbatch .* failed") as failed:
        jobs.append(sbatch("-o", "/dev/null", *args, "--wrap", "true"))
    assert message in str(failed.value)


#: the preempted job's one step, run by srun like submitit runs its python
STEP = """\
#!/bin/bash
d={folder}
if [ "${{SLURM_RESTART_COUNT:-0}}" -gt 0 ]; then
    echo "SLURM_RESTART_COUNT=$SLURM_RESTART_COUNT" > "$d/rerun"
    exit 0
fi
trap 'echo USR2 >> "$d/signals"; {on_usr2}' USR2
trap 'echo TERM >> "$d/signals"; exit 143' TERM
touch "$d/running"
while :; do sleep 0.5 & wait $!; done
"""


def _preempt(cluster, jobs, folder: Path, on_usr2: str) -> tuple[int, int]:
    """A debug job filling the node, preempted by a debug-high job: (its id, the preemptor's id)."""
    step = folder / "step.sh"
    step.write_text(STEP.format(folder=shlex.quote(str(folder)), on_usr2=on_usr2))
    low = submit_wrap(
        cluster.partition, cluster.cpus, f"srun bash {shlex.quote(str(step))}",
        "--signal=USR2@30", "--requeue", output=folder / "low.out",
    )  # fmt: skip
    jobs.append(low)
    wait_for_file(folder / "running", timeout=60)  # the traps are set
    high = submit_wrap(cluster.high_partition, cluster.cpus, "true", output=folder / "high.out")
    jobs.append(high)
    assert wait_for_file(folder / "signals", timeout=30).splitlines()[0] == "USR2"
    wait_for_job_state(high, "COMPLETED", timeout=90)
    assert wait_for_file(folder / "rerun", timeout=90).strip() == "SLURM_RESTART_COUNT=1"
    wait_for_job_state(low, "COMPLETED", timeout=30)
    return low, high


def _check_order(low: int, high: int) -> None:
    """The preemptor ran after the first run of the preempted job ended, and before its rerun."""
    first, rerun = sacct_records(low)
    (preemptor,) = sacct_records(high)
    t = {k: datetime.fromisoformat(v) for k, v in [("end1", first["End"]), ("start", preemptor["Start"]),
                                                   ("end", preemptor["End"]), ("start2", rerun["Start"])]}  # fmt: skip
    assert t["end1"] <= t["start"] <= t["end"] <= t["start2"], (first, preemptor, rerun)


@pytest.mark.timeout(150)
def test_preempted_job_that_requeues_itself(cluster, jobs, tmp_path):
    """What submitit does: on USR2 the step requeues its job (sacct: REQUEUED, then COMPLETED)."""
    low, high = _preempt(cluster, jobs, tmp_path, on_usr2='scontrol requeue "$SLURM_JOB_ID"; exit 0')
    wait_for_sacct_states(low, ["REQUEUED", "COMPLETED"])
    _check_order(low, high)


@pytest.mark.timeout(180)
def test_preempted_job_is_requeued_by_slurm(cluster, jobs, tmp_path):
    """A job that only notes the signal is killed when GraceTime ends, requeued, and runs again.

    Slurm 22.05 records that first run as PREEMPTED (REQUEUED is what ``scontrol requeue`` gives).
    """
    low, high = _preempt(cluster, jobs, tmp_path, on_usr2=":")
    assert (tmp_path / "signals").read_text().split() == ["USR2", "TERM"]
    wait_for_sacct_states(low, ["PREEMPTED", "COMPLETED"])
    _check_order(low, high)
