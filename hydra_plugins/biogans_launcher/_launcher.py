"""The sweep launchers: ``hydra/launcher=slurm`` and ``hydra/launcher=local``.

Both plan first (:func:`~hydra_plugins.biogans_launcher._plan.plan_sweep`: every job's
directory and state, from the task contract), launch only what is not done, and judge
each launched job by the record it leaves, so a rerun of the same command advances a
sweep instead of repeating it.

``slurm`` is Hydra's submitit launcher (:class:`SlurmLauncher`) with three changes:

- before submitting, the request is checked against ``sinfo`` and the plan decides which
  jobs go in (no ``sbatch`` for a done or still-queued job);
- results are collected job by job as they finish: a job that dies without a result (a
  SIGKILL, the out-of-memory killer, a node failure) is listed as failed with its log
  paths, and the others' results are kept; ``squeue`` is asked as well, so a dead job is
  noticed even where ``sacct`` is off;
- the job body (Hydra's ``__call__``) and the requeue (``checkpoint``) are inherited
  unchanged: on SIGUSR2 (preemption, or the time limit minus ``signal_delay_s``) the
  trainer writes ``checkpoints/last.pt`` and hands the signal to submitit, which requeues
  the same call; the requeued job resumes from that checkpoint.

``local`` runs the jobs one after the other in this process through Hydra's basic
launcher, with the same plan and the same summary.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.biogans_launcher import _cluster as cluster
from hydra_plugins.biogans_launcher._plan import (
    Job,
    SweepError,
    finish,
    plan_sweep,
    refresh,
    save_manifests,
    summary,
)

log = logging.getLogger("biogans.sweep")


def _tool(config: DictConfig, tool: str | None) -> str:
    """The biogans tool a sweep runs: ``hydra.launcher.tool``, else the entry point's name."""
    from biogans.tasks.contract import TASKS

    name = tool or str(OmegaConf.select(config, "hydra.job.name", default=""))
    if name not in TASKS:
        raise SweepError(
            f"the biogans launchers run biogans tools ({', '.join(TASKS)}), and this app is {name!r}; "
            "set hydra.launcher.tool=NAME if it runs one of them"
        )
    return name


def _job_log(job: Job, config: DictConfig) -> str:
    """The job's own log file, written by Hydra's job logging into its run directory."""
    return str(job.dir / f"{OmegaConf.select(config, 'hydra.job.name', default='job')}.log")


def _outcome(job: Job, value: Any) -> None:
    """Fold a job's return value into its state: a failure the record does not show (a
    requeued job refused by the contract leaves the old record as it was)."""
    status = value.get("status") if isinstance(value, dict) else getattr(value, "status", None)
    error = value.get("error") if isinstance(value, dict) else getattr(value, "error", None)
    if isinstance(value, BaseException):
        status, error = "failed", f"{type(value).__name__}: {value}"
    if status == "failed" and job.state != "done":
        job.state = "failed"
        job.detail = str(error or job.detail or "failed")


def _skipped_return(job: Job) -> JobReturn:
    ret = JobReturn(overrides=list(job.overrides), status=JobStatus.COMPLETED)
    ret.return_value = {"status": job.state, "detail": job.detail, "dir": str(job.dir)}
    return ret


def _plan_log(jobs: Sequence[Job], title: str, retry_failed: bool) -> None:
    to_run = [j for j in jobs if j.action == "run"]
    log.info("%s", summary(jobs, title, retry_failed))
    log.info("%s: launching %d of %d jobs", title, len(to_run), len(jobs))


def _plan_launch(
    launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int, **extra: Any
) -> tuple[str, str, list[Job]]:
    """What both launchers do first: the tool, the sweep's title, and its jobs planned
    (done ones skipped, waiting ones found) and logged."""
    config = launcher.config
    assert config is not None and launcher.hydra_context is not None
    tool = _tool(config, launcher.tool)
    title = f"{tool} sweep {config.hydra.sweep.dir}"
    jobs = plan_sweep(
        tool=tool,
        loader=launcher.hydra_context.config_loader,
        master=config,
        job_overrides=job_overrides,
        initial_job_idx=initial_job_idx,
        retry_failed=launcher.retry_failed,
        log_files=lambda job: [_job_log(job, config)],
        **extra,
    )
    _plan_log(jobs, title, launcher.retry_failed)
    return tool, title, jobs


class BiogansSlurmLauncher(SlurmLauncher):
    """Hydra's submitit SLURM launcher that submits only what is not done (module docstring)."""

    def __init__(
        self,
        retry_failed: bool = False,
        tool: str | None = None,
        poll_s: float = 10.0,
        max_array_size: int = 1000,
        dead_after_s: float = 60.0,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self.retry_failed = bool(retry_failed)
        self.tool = tool
        self.poll_s = float(poll_s)
        self.max_array_size = int(max_array_size)
        self.dead_after_s = float(dead_after_s)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        cluster.check_request(self.params)
        tool, title, jobs = _plan_launch(self, job_overrides, initial_job_idx, alive=cluster.alive)
        to_run = [j for j in jobs if j.action == "run"]
        returns: dict[int, JobReturn] = {}
        if to_run:
            submitted = self._submit(to_run)
            save_manifests(jobs, tool)
            returns = self._collect(to_run, submitted, tool)
            save_manifests(jobs, tool)
        elif jobs:
            save_manifests(jobs, tool)
        finish(jobs, title, launched=bool(to_run))
        return [returns.get(j.num) or _skipped_return(j) for j in jobs]

    # ------------------------------------------------------------------------ submission
    def _executor(self) -> Any:
        """A submitit SLURM executor with this launcher's parameters.

        ``hydra.launcher.*`` keys that submitit shares across clusters (timeout_min,
        cpus_per_task, ...) keep their names, the others become ``slurm_<key>``, as the
        submitit launcher hands them over.
        """
        import submitit

        params = dict(self.params)
        folder = params.pop("submitit_folder")
        max_num_timeout = params.pop("max_num_timeout", 0)
        executor = submitit.AutoExecutor(folder=folder, cluster="slurm", slurm_max_num_timeout=max_num_timeout)
        shared = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{k if k in shared else f"slurm_{k}": v for k, v in params.items()})
        return executor

    def _submit(self, to_run: list[Job]) -> list[Any]:
        """Submit ``to_run`` as job arrays (at most the cluster's MaxArraySize each); their submitit jobs."""
        from hydra.core.singleton import Singleton
        from submitit.core.utils import FailedJobError

        executor = self._executor()
        limit = max(1, min(self.max_array_size, cluster.max_array_size() or self.max_array_size))
        submitted: list[Any] = []
        for start in range(0, len(to_run), limit):
            chunk = to_run[start : start + limit]
            args = [
                (list(j.overrides), "hydra.sweep.dir", j.num, f"job_id_for_{j.num}", Singleton.get_state())
                for j in chunk
            ]
            try:
                jobs = executor.map_array(self, *zip(*args))
            except (FailedJobError, OSError, subprocess.SubprocessError) as exc:
                request = ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()) if v not in (None, [], {}))
                done = ""
                if submitted:  # an earlier array went in: keep its ids, so that a rerun finds those jobs
                    done = f" ({len(submitted)} jobs were submitted before this)"
                    save_manifests(to_run[: len(submitted)], _tool(self.config, self.tool))  # type: ignore[arg-type]
                raise SweepError(f"sbatch refused the jobs{done}: {exc}\nthe request: {request}") from None
            for job, sj in zip(chunk, jobs):
                job.slurm_job = str(sj.job_id)
                job.state, job.detail = "queued", ""
                job.logs = [str(sj.paths.stderr), str(sj.paths.stdout), *job.logs[:1]]
            submitted.extend(jobs)
        log.info("submitted %d jobs: %s", len(submitted), ", ".join(j.slurm_job or "?" for j in to_run[:20]))
        return submitted

    # ------------------------------------------------------------------------ collection
    def _collect(self, to_run: list[Job], submitted: list[Any], tool: str) -> dict[int, JobReturn]:
        """Wait for every job; one that dies without a result is failed, the others are kept."""
        pending = {job.num: (job, sj) for job, sj in zip(to_run, submitted)}
        returns: dict[int, JobReturn] = {}
        gone_since: dict[int, float] = {}
        while pending:
            living = cluster.alive([str(sj.job_id) for _, sj in pending.values()])
            for num, (job, sj) in list(pending.items()):
                finished = sj.done()
                if not finished and str(sj.job_id) not in living and cluster.has_squeue():
                    # not in the queue and no result: give submitit's sacct and the file system a
                    # moment, then count it as dead (a cluster without accounting never says so)
                    first = gone_since.setdefault(num, time.time())
                    finished = time.time() - first >= self.dead_after_s
                elif str(sj.job_id) in living:
                    gone_since.pop(num, None)
                if not finished:
                    continue
                del pending[num]
                returns[num] = self._result(job, sj, tool)
            if pending:
                time.sleep(self.poll_s)
        return returns

    def _result(self, job: Job, sj: Any, tool: str) -> JobReturn:
        from submitit.core.utils import FailedJobError, UncompletedJobError

        try:
            ret = sj.results()[0]
        except (UncompletedJobError, FailedJobError) as exc:
            refresh(job, tool)
            if job.state != "done":
                first = next((ln for ln in str(exc).splitlines() if ln.strip()), "no result")
                state = f" (SLURM state {sj.state})" if getattr(sj, "state", "UNKNOWN") != "UNKNOWN" else ""
                if job.state == "interrupted":
                    job.detail = f"stopped without finishing{state}: {first}; a rerun resumes it"
                else:
                    job.state = "failed"
                    job.detail = f"the job ended without a result{state}: {first}"
            ret = JobReturn(overrides=list(job.overrides), status=JobStatus.FAILED)
            ret.return_value = exc
            return ret
        refresh(job, tool)
        _outcome(job, ret._return_value if ret.status == JobStatus.FAILED else ret.return_value)
        return ret


class BiogansLocalLauncher(Launcher):
    """The same plan and summary, with the jobs run here, one after the other (Hydra's basic launcher)."""

    def __init__(self, retry_failed: bool = False, tool: str | None = None) -> None:
        super().__init__()
        self.retry_failed = bool(retry_failed)
        self.tool = tool
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None
        self._basic: Any = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra._internal.core_plugins.basic_launcher import BasicLauncher

        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function
        self._basic = BasicLauncher()
        self._basic.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        tool, title, jobs = _plan_launch(self, job_overrides, initial_job_idx)
        returns: dict[int, JobReturn] = {}
        to_run = [j for j in jobs if j.action == "run"]
        if to_run:
            save_manifests(jobs, tool)
        for job in to_run:
            ret = self._basic.launch([job.overrides], initial_job_idx=job.num)[0]
            returns[job.num] = ret
            refresh(job, tool)
            _outcome(job, ret._return_value)
            save_manifests([job], tool)
        if jobs and not to_run:
            save_manifests(jobs, tool)
        finish(jobs, title, launched=bool(to_run))
        return [returns.get(j.num) or _skipped_return(j) for j in jobs]
