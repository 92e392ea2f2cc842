"""What the SLURM cluster can do, asked before a sweep is submitted.

``sbatch`` refuses a job no node can run (more CPUs or memory than any node has, GPUs on
a cluster without any, a partition that does not exist) only with messages like
"Requested node configuration is not available", and only once the sweep is half
submitted.  :func:`check_request` compares the launcher's request with what ``sinfo``
reports and refuses first, naming the ``hydra.launcher`` key and its value.

:func:`alive` asks ``squeue`` which jobs are still pending or running: a job submitted by
an earlier launch is not submitted twice, and a job that vanished from the queue without
a result counts as dead even on a cluster without accounting (where submitit, which asks
``sacct``, would wait for it forever).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hydra_plugins.biogans_launcher._plan import SweepError

#: squeue states of a job that may still produce a result
LIVE_STATES = frozenset(
    {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "COMPLETING",
     "SUSPENDED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"}
)  # fmt: skip


@dataclass(frozen=True)
class Partition:
    name: str
    default: bool
    cpus: int  # the most CPUs of any of its nodes
    memory_mb: int  # the most memory of any of its nodes
    gpus: int  # the most GPUs of any of its nodes
    time_limit_min: int | None  # None: no limit


def _run(cmd: Sequence[str], timeout: float = 30) -> str:
    if shutil.which(cmd[0]) is None:
        raise SweepError(
            f"hydra/launcher=slurm needs SLURM's commands, but {cmd[0]!r} is not on PATH on this machine; "
            "run the sweep from a cluster login node, or use hydra/launcher=local to run it here"
        )
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise SweepError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def _gpus(gres: str) -> int:
    """GPUs in a sinfo GRES string: ``gpu:4``, ``gpu:a100:2(S:0-1),shard:8``, ``(null)``."""
    total = 0
    for item in gres.split(","):
        item = re.sub(r"\(.*?\)", "", item.strip())
        if item.startswith("gpu"):
            count = item.rsplit(":", 1)[-1]
            total += int(count) if count.isdigit() else 1
    return total


def _minutes(limit: str) -> int | None:
    """sinfo's time limit (``infinite``, ``30``, ``1:00:00``, ``2-00:00:00``) in minutes."""
    limit = limit.strip()
    if limit in ("infinite", "UNLIMITED", "n/a", ""):
        return None
    days = 0
    if "-" in limit:
        d, limit = limit.split("-", 1)
        days = int(d)
    parts = [int(p) for p in limit.split(":")]
    if len(parts) == 1:  # minutes
        h, m, s = 0, parts[0], 0
    elif len(parts) == 2:  # minutes:seconds
        h, m, s = 0, parts[0], parts[1]
    else:
        h, m, s = parts[-3], parts[-2], parts[-1]
    return days * 1440 + h * 60 + m + (1 if s else 0)


def partitions() -> dict[str, Partition]:
    """Every partition ``sinfo`` reports, with the largest node of each."""
    out = _run(["sinfo", "--noheader", "--Node", "--format=%P|%c|%m|%G|%l"])
    found: dict[str, Partition] = {}
    for line in out.splitlines():
        fields = line.strip().split("|")
        if len(fields) != 5:
            continue
        raw, cpus, mem, gres, limit = fields
        name = raw.rstrip("*")
        mem_mb = int(re.sub(r"\D.*", "", mem) or 0)
        p = Partition(
            name, raw.endswith("*"), int(re.sub(r"\D.*", "", cpus) or 0), mem_mb, _gpus(gres), _minutes(limit)
        )
        old = found.get(name)
        if old is not None:
            p = Partition(
                name, old.default or p.default, max(old.cpus, p.cpus), max(old.memory_mb, p.memory_mb),
                max(old.gpus, p.gpus), old.time_limit_min,
            )  # fmt: skip
        found[name] = p
    return found


def check_request(params: dict[str, Any]) -> Partition:
    """Refuse (:class:`SweepError`) a request no node of the partition can meet; the partition."""
    timeout_min = int(params.get("timeout_min") or 0)
    delay = int(params.get("signal_delay_s") or 0)
    if timeout_min < 1:
        raise SweepError(f"hydra.launcher.timeout_min={timeout_min}: a job needs at least 1 minute")
    if delay >= timeout_min * 60:
        raise SweepError(
            f"hydra.launcher.signal_delay_s={delay} is not shorter than hydra.launcher.timeout_min={timeout_min} "
            f"({timeout_min * 60} s): the checkpoint-and-requeue signal would come before the job starts; "
            f"use e.g. hydra.launcher.signal_delay_s={max(timeout_min * 60 // 2, 1)}"
        )
    if int(params.get("max_num_timeout") or 0) < 0:
        raise SweepError(f"hydra.launcher.max_num_timeout={params.get('max_num_timeout')} must be >= 0")
    known = partitions()
    wanted = params.get("partition")
    if wanted:
        if wanted not in known:
            raise SweepError(
                f"hydra.launcher.partition={wanted}: no such partition on this cluster "
                f"(partitions: {', '.join(sorted(known)) or 'none'})"
            )
        part = known[wanted]
    else:
        defaults = [p for p in known.values() if p.default]
        if not defaults:
            raise SweepError(
                "this cluster has no default partition: give hydra.launcher.partition=NAME "
                f"(partitions: {', '.join(sorted(known)) or 'none'})"
            )
        part = defaults[0]
    where = f"partition {part.name!r}"
    tasks = int(params.get("tasks_per_node") or 1)
    cpus = params.get("cpus_per_task")
    if cpus is not None and int(cpus) * tasks > part.cpus:
        raise SweepError(
            f"hydra.launcher.cpus_per_task={cpus}"
            + (f" (x tasks_per_node={tasks})" if tasks > 1 else "")
            + f": no node of {where} has more than {part.cpus} CPUs"
        )
    mem_gb = params.get("mem_gb")
    if mem_gb is not None and float(mem_gb) * 1024 > part.memory_mb:
        raise SweepError(
            f"hydra.launcher.mem_gb={mem_gb}: no node of {where} has more than {part.memory_mb / 1024:.1f} GB "
            "of memory for jobs"
        )
    gpus = max(int(params.get("gpus_per_node") or 0), int(params.get("gpus_per_task") or 0) * tasks)
    if gpus > part.gpus:
        have = f"has at most {part.gpus} GPUs per node" if part.gpus else "has no GPUs"
        key = "gpus_per_node" if params.get("gpus_per_node") else "gpus_per_task"
        raise SweepError(
            f"hydra.launcher.{key}={params.get(key)}: {where} {have}"
            + ("; set hydra.launcher.gpus_per_node=0 to run the jobs on CPUs" if not part.gpus else "")
        )
    if part.time_limit_min is not None and timeout_min > part.time_limit_min:
        raise SweepError(
            f"hydra.launcher.timeout_min={timeout_min}: {where} allows at most {part.time_limit_min} minutes "
            "(jobs are requeued on timeout, so a shorter limit is fine)"
        )
    return part


def max_array_size() -> int | None:
    """The cluster's MaxArraySize (an array may hold task ids below it), if ``scontrol`` says."""
    try:
        out = _run(["scontrol", "show", "config"])
    except SweepError:
        return None
    match = re.search(r"^MaxArraySize\s*=\s*(\d+)", out, re.MULTILINE)
    return int(match.group(1)) if match else None


def has_squeue() -> bool:
    return shutil.which("squeue") is not None


def alive(job_ids: Sequence[str]) -> set[str]:
    """The ids among ``job_ids`` (``123`` or array tasks ``123_4``) that SLURM still holds as live."""
    if not job_ids or shutil.which("squeue") is None:
        return set()
    proc = subprocess.run(
        ["squeue", "--noheader", "--array", "--format=%i|%T", "--states=all"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        return set()
    live = set()
    for line in proc.stdout.splitlines():
        jid, _, state = line.strip().partition("|")
        if state.strip() in LIVE_STATES:
            live.add(jid.strip())
    return {j for j in job_ids if j in live}
