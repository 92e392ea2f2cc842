"""``hydra/sweeper=biogans``: Hydra's basic sweeper, strict about empty sweeps and tidy on refusal.

Two things the basic sweeper does that a rerunnable grid cannot afford:

- a sweep that expands to nothing (``experiment=glob(paper_x*)`` matching no config) runs
  zero jobs and exits 0, after writing ``multirun.yaml`` into a new sweep directory;
- a sweep refused before any job ran (bad input) still leaves that directory behind.

This sweeper names the override that expands to nothing (and the options there are), and
when the launcher refuses a sweep before launching anything it removes what the sweep
wrote (``multirun.yaml`` and the folders made for it), so the next run finds no trace.
It also skips the basic sweeper's extra composition of every job when the launcher is one
of ours, which composes each job itself before launching it (a 2,000-job grid composes
once, not twice).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from hydra_plugins.biogans_launcher._plan import SweepError

log = logging.getLogger("biogans.sweep")


class BiogansSweeper(Sweeper):
    """Hydra's basic sweeper, held rather than subclassed.

    Hydra's plugin scan executes the modules of its core plugins a second time when they
    were imported before it ran, which makes a second ``BasicSweeper`` class; a subclass of
    the first would then fail in the basic sweeper's own ``super()`` call.  The sweeper
    held here is made from the class Hydra knows when the sweep starts.
    """

    def __init__(self, max_batch_size: int | None = None, params: dict[str, str] | None = None) -> None:
        super().__init__()
        self.max_batch_size = max_batch_size
        self.params = dict(params or {})
        self.hydra_context: HydraContext | None = None
        self.config: DictConfig | None = None
        self._basic: Any = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra._internal.core_plugins import basic_sweeper

        from hydra_plugins.biogans_launcher._launcher import BiogansLocalLauncher, BiogansSlurmLauncher

        self.hydra_context, self.config = hydra_context, config
        self._basic = basic_sweeper.BasicSweeper(max_batch_size=self.max_batch_size, params=self.params)
        self._basic.setup(hydra_context=hydra_context, task_function=task_function, config=config)
        if isinstance(self._basic.launcher, (BiogansLocalLauncher, BiogansSlurmLauncher)):
            # our launchers compose every job before launching any, with clearer messages:
            # the basic sweeper's own check would compose a 2,000-job grid a second time
            self._basic.validate_batch_is_legal = lambda batch: None

    def sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None and self.hydra_context is not None
        self._refuse_empty(arguments)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        existed = _existing_parents(sweep_dir)
        try:
            return self._basic.sweep(arguments)
        except SweepError:
            _remove_fresh(sweep_dir, existed)
            raise

    def _refuse_empty(self, arguments: list[str]) -> None:
        """Raise :class:`SweepError` naming an override that expands to no value at all."""
        assert self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        params = [f"{k}={v}" for k, v in self.params.items()]
        for override in parser.parse_overrides([*params, *arguments]):
            if not (override.is_sweep_override() and override.is_discrete_sweep()):
                continue
            if not list(override.sweep_string_iterator()):
                options = ""
                found = self.hydra_context.config_loader.get_group_options(override.key_or_group)
                if found:
                    options = f" (the options of {override.key_or_group!r}: {', '.join(found)})"
                raise SweepError(f"{override.input_line!r} matches nothing, so the sweep has no jobs{options}")


def _existing_parents(path: Path) -> set[Path]:
    return {p for p in (path, *path.parents) if p.exists()}


def _remove_fresh(sweep_dir: Path, existed: set[Path]) -> None:
    """Undo what a refused sweep made: its multirun.yaml, then each folder made for it, if empty."""
    if sweep_dir in existed:
        return  # an earlier sweep's directory: its multirun.yaml is rewritten by the next run anyway
    if any(p.name != "multirun.yaml" for p in sweep_dir.iterdir()) if sweep_dir.is_dir() else False:
        return  # some jobs went in before the refusal: their traces stay
    (sweep_dir / "multirun.yaml").unlink(missing_ok=True)
    for folder in (sweep_dir, *sweep_dir.parents):
        if folder in existed:
            break
        try:
            folder.rmdir()
        except OSError:
            break
