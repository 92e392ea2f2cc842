"""Helpers for tests that send real jobs through the SLURM cluster of ``scripts/slurm-cluster.sh``.

A test module gets the cluster with a fixture::

    from slurm_support import slurm_cluster

    @pytest.fixture(scope="module")
    def cluster():
        return slurm_cluster()      # skips (or fails under CI=true) when no cluster answers

``slurm_cluster()`` counts a cluster as present only when ``sinfo`` answers AND either
``BIOGANS_SLURM_PARTITION`` is set (as ``.ci/run`` does) or the script's ``status`` says it
runs, so the tests never send jobs to some other SLURM installation by accident.  Without a
cluster the tests are skipped; with ``CI=true`` they fail instead, because CI must run them.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "slurm-cluster.sh"
NO_CLUSTER = "no SLURM cluster: run scripts/slurm-cluster.sh start"

#: job states after which nothing more happens to a job (PREEMPTED is not one: with
#: PreemptMode=REQUEUE the job goes back to PENDING)
FINAL_STATES = frozenset(
    {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}
)


@dataclass(frozen=True)
class SlurmCluster:
    """The cluster as the tests see it."""

    partition: str  #: the default partition; its jobs can be preempted (requeued)
    high_partition: str  #: its jobs preempt those of ``partition``
    cpus: int  #: CPUs of the one node: a job asking for all of them fills the node
    memory_mb: int  #: memory of the node that jobs may request


_found: SlurmCluster | None = None


def _slurm(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _look_for_cluster() -> SlurmCluster | str:
    """The cluster, or why there is none."""
    if shutil.which("sinfo") is None:
        return "sinfo is not installed"
    wanted = os.environ.get("BIOGANS_SLURM_PARTITION", "").strip()
    if not wanted:
        try:
            status = _slurm(str(SCRIPT), "status")
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{SCRIPT.name} status did not answer: {exc}"
        if status.returncode != 0:
            return f"BIOGANS_SLURM_PARTITION is not set and {SCRIPT.name} status says: {status.stdout.strip()[-300:]}"
    try:
        info = _slurm("sinfo", "-h", "-o", "%P|%c|%m|%a")
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 30 s"
    if info.returncode != 0:
        return f"sinfo failed: {info.stderr.strip()}"
    parts: dict[str, tuple[int, int]] = {}
    default = None
    for line in info.stdout.split():
        name, cpus, mem, avail = line.split("|")
        if name.endswith("*"):
            name = default = name[:-1]
        if avail == "up":
            parts[name] = (int(cpus.rstrip("+")), int(mem.rstrip("+")))
    partition = wanted or default
    if partition not in parts:
        return f"partition {partition!r} is not up; sinfo lists {info.stdout.split()}"
    high = f"{partition}-high"
    if high not in parts:
        return f"partition {high!r} (to preempt {partition!r}) is not up; sinfo lists {info.stdout.split()}"
    cpus, mem = parts[partition]
    return SlurmCluster(partition=partition, high_partition=high, cpus=cpus, memory_mb=mem)


def slurm_cluster() -> SlurmCluster:
    """The running cluster; ``pytest.skip`` without one (``pytest.fail`` when ``CI=true``)."""
    global _found
    if _found is None:
        found = _look_for_cluster()
        if isinstance(found, str):
            if _in_ci():
                pytest.fail(f"{NO_CLUSTER} (CI=true, so the SLURM tests must run): {found}", pytrace=False)
            pytest.skip(f"{NO_CLUSTER} ({found})")
        _found = found
    return _found


def sbatch(*args: str, timeout: float = 30) -> int:
    """``sbatch --parsable ARGS``; the job id.  AssertionError with sbatch's message if it fails."""
    proc = _slurm("sbatch", "--parsable", *args, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"sbatch {shlex.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return int(proc.stdout.strip().split(";")[0])


def submit_wrap(
    partition: str, cpus: int, command: str, *sbatch_args: str, output: str | os.PathLike = os.devnull
) -> int:
    """Submit ``command`` (a shell line) as a batch job with ``cpus`` CPUs; the job id.

    ``output`` receives the job's stdout and stderr (default: discarded, so no slurm-*.out
    lands in the working directory); ``sbatch_args`` are passed on (``--signal``, ``--requeue``...).
    """
    return sbatch("-p", partition, "-c", str(cpus), "-o", str(output), *sbatch_args, "--wrap", command)


def cancel(job_id: int) -> None:
    """``scancel`` the job; no error if it has ended already."""
    _slurm("scancel", str(job_id))


def job_state(job_id: int) -> str | None:
    """The job's state now, from ``scontrol show job`` (sacct once slurmctld forgot it)."""
    proc = _slurm("scontrol", "-o", "show", "job", str(job_id))
    found = re.search(r"\bJobState=(\S+)", proc.stdout)
    if proc.returncode == 0 and found:
        return found.group(1)
    states = sacct_states(job_id)
    return states[-1] if states else None


def wait_for_job_state(job_id: int, states: str | Iterable[str], timeout: float = 60) -> str:
    """Poll until the job is in one of ``states``; the state reached.

    Fails at once if the job ends in a final state that was not asked for, and after
    ``timeout`` seconds otherwise, telling what ``scontrol`` and ``sacct`` say.
    """
    wanted = {states} if isinstance(states, str) else set(states)
    deadline = time.monotonic() + timeout
    state = None
    while True:
        state = job_state(job_id)
        if state in wanted:
            return state
        if state in FINAL_STATES or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    why = "ended as" if state in FINAL_STATES else f"after {timeout:.0f} s still"
    show = _slurm("scontrol", "show", "job", str(job_id)).stdout.strip()
    raise AssertionError(f"job {job_id} {why} {state}, not {sorted(wanted)}; sacct: {sacct_states(job_id)}\n{show}")


def sacct_records(job_id: int, fields: str = "State,Start,End") -> list[dict[str, str]]:
    """Accounting records of the job itself (no steps), one per run: a requeued job has several."""
    names = fields.split(",")
    proc = _slurm("sacct", "-j", str(job_id), "-X", "-D", "-n", "-P", "-o", fields)
    if proc.returncode != 0:
        raise AssertionError(f"sacct -j {job_id} failed: {proc.stderr.strip()}")
    return [dict(zip(names, line.split("|"), strict=True)) for line in proc.stdout.splitlines() if line.strip()]


def sacct_states(job_id: int) -> list[str]:
    """The job's state in each of its runs, oldest first: e.g. ``["REQUEUED", "COMPLETED"]``.

    "CANCELLED by 0" reads "CANCELLED".  Records reach the database a moment after the
    state changes in slurmctld: poll (``wait_for_sacct_states``) rather than read once.
    """
    return [rec["State"].split()[0] for rec in sacct_records(job_id, "State")]


def wait_for_sacct_states(job_id: int, states: list[str], timeout: float = 30) -> list[str]:
    """Poll until ``sacct_states(job_id) == states``; AssertionError with the last answer otherwise."""
    deadline = time.monotonic() + timeout
    while (seen := sacct_states(job_id)) != states and time.monotonic() < deadline:
        time.sleep(0.5)
    assert seen == states, f"sacct states of job {job_id}: {seen}, expected {states}"
    return seen


def wait_for_file(path: Path, timeout: float = 60, text: str | None = None) -> str:
    """Poll until ``path`` exists (and contains ``text``, when given); its content."""
    deadline = time.monotonic() + timeout
    while True:
        content = path.read_text() if path.exists() else None
        if content is not None and (text is None or text in content):
            return content
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} after {timeout:.0f} s: {content!r}, waiting for {text or 'the file'!r}")
        time.sleep(0.25)
