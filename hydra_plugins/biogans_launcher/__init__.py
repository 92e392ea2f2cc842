"""biogans's Hydra plugins: sweeps that skip what is done, on SLURM or on this machine.

Hydra imports every module of the ``hydra_plugins`` namespace package when it starts, so
this package registers, before any config is composed:

- the ``biogans.*`` resolvers that make run and sweep directories deterministic
  (:mod:`~hydra_plugins.biogans_launcher._naming`);
- the schemas of ``conf/hydra/launcher/{slurm,local}.yaml`` (``hydra/launcher/biogans_slurm``,
  ``hydra/launcher/biogans_local``: the submitit launcher's options plus ours) and the
  sweeper ``hydra/sweeper=biogans``.

The modules beside this one start with ``_`` so that Hydra's scan, which executes every
other module of the namespace again, leaves them alone (a second execution would make a
second ``SweepError`` class that the first one's ``except`` does not catch); the plugin
classes are found here, imported.  Only Hydra, OmegaConf and the submitit launcher's
modules are imported; torch, submitit itself and biogans's tasks wait until a sweep is
launched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf

from hydra_plugins.biogans_launcher._launcher import BiogansLocalLauncher, BiogansSlurmLauncher
from hydra_plugins.biogans_launcher._naming import register_resolvers
from hydra_plugins.biogans_launcher._sweeper import BiogansSweeper

register_resolvers()


@dataclass
class BiogansSlurmConf(SlurmQueueConf):
    """``hydra/launcher=slurm``: every option of Hydra's submitit SLURM launcher, plus these."""

    _target_: str = "hydra_plugins.biogans_launcher._launcher.BiogansSlurmLauncher"
    #: rerun jobs whose record says failed (they are listed, not rerun, by default)
    retry_failed: bool = False
    #: the biogans tool the jobs run (null: the entry point's name, hydra.job.name)
    tool: Optional[str] = None  # noqa: UP045 - OmegaConf 2.3 reads Optional[...], not unions
    #: seconds between two looks at the queue while waiting for the jobs
    poll_s: float = 10.0
    #: the most jobs in one job array (also capped by the cluster's MaxArraySize)
    max_array_size: int = 1000
    #: a job gone from the queue without a result for this long counts as dead
    dead_after_s: float = 60.0


@dataclass
class BiogansLocalConf:
    """``hydra/launcher=local``: the jobs run here, one after the other."""

    _target_: str = "hydra_plugins.biogans_launcher._launcher.BiogansLocalLauncher"
    retry_failed: bool = False
    tool: Optional[str] = None  # noqa: UP045 - OmegaConf 2.3 reads Optional[...], not unions


@dataclass
class BiogansSweeperConf:
    """``hydra/sweeper=biogans``: the basic sweeper's options."""

    _target_: str = "hydra_plugins.biogans_launcher._sweeper.BiogansSweeper"
    max_batch_size: Optional[int] = None  # noqa: UP045 - OmegaConf 2.3 reads Optional[...]
    params: Optional[dict[str, str]] = None  # noqa: UP045


_cs = ConfigStore.instance()
_cs.store(group="hydra/launcher", name="biogans_slurm", node=BiogansSlurmConf, provider="biogans")
_cs.store(group="hydra/launcher", name="biogans_local", node=BiogansLocalConf, provider="biogans")
_cs.store(group="hydra/sweeper", name="biogans", node=BiogansSweeperConf, provider="biogans")

__all__ = ["BiogansLocalLauncher", "BiogansSlurmLauncher", "BiogansSweeper", "register_resolvers"]
