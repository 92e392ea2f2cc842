"""Deterministic run and sweep directories, as OmegaConf resolvers for the ``hydra:`` blocks.

Hydra's defaults put a timestamp in every directory and number sweep jobs
(``0_dcgan_LossName.gan``): a rerun cannot find its earlier jobs, and an evaluation
sweep cannot find a training run's checkpoints.  Here a directory follows from what
the user asked for, so the same command always lands in the same place:

- ``${biogans.outputs:train,${hydra.overrides.task}}`` -- ``outputs/paper/train`` when the
  command selects one of the paper's experiments (``experiment=...``, swept or not),
  else ``outputs/train``;
- ``${biogans.job_name:${hydra.overrides.task},${hydra.job.config.override_dirname.exclude_keys}}``
  -- the experiment's name (``paper_dcgan_gan``) when one is selected, else the
  overrides as ``key=value`` pairs in key order (``loss=gan,model=sep``), ``default``
  when there are none.  Keys listed in ``hydra.job.config.override_dirname.exclude_keys``
  (device, progress bars, ...) never change the name;
- ``${biogans.checkpoint_name:${generator}}`` -- ``paper_dcgan_gan/iter_0005000`` for
  ``outputs/paper/train/paper_dcgan_gan/checkpoints/iter_0005000.pt``: the run and the
  snapshot, for evaluation sweeps;
- ``${biogans.name:${optimise}}`` -- a value as a name: ``joint``, where OmegaConf's own
  string interpolation would write the enum as ``Optimise.joint``.

This module is imported by Hydra's plugin scan before any config is composed, and again
when a SLURM job unpickles the launcher, so the resolvers exist wherever a config is
resolved.  It imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from enum import Enum
from pathlib import PurePath
from typing import Any

from omegaconf import OmegaConf

#: the config group of conf/experiment/; selecting one names the run after it
EXPERIMENT_KEY = "experiment"
#: where the runs of experiments go, below ``outputs/``
EXPERIMENT_ROOT = "paper"
#: a directory name longer than this is cut and ended with a hash of the whole name
MAX_NAME = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9_.,=+\-\[\]]+")


def override_key(line: str) -> str:
    """The key of one override line: ``+model.ngf=3`` -> ``model.ngf``; ``~seed`` -> ``seed``."""
    key = line.split("=", 1)[0].strip()
    return key.lstrip("+~")


def override_value(line: str) -> str:
    return line.split("=", 1)[1].strip() if "=" in line else ""


def _experiment(overrides: Iterable[str]) -> str | None:
    for line in overrides:
        if override_key(line) == EXPERIMENT_KEY:
            value = override_value(line)
            return value if value and value.lower() != "null" else None
    return None


def outputs_dir(tool: str, overrides: Iterable[str] | None, root: str = "outputs") -> str:
    """``outputs/paper/<tool>`` for runs of an experiment, ``outputs/<tool>`` otherwise."""
    if _experiment(overrides or []) is not None:
        return f"{root}/{EXPERIMENT_ROOT}/{tool}"
    return f"{root}/{tool}"


def checkpoint_name(path: Any) -> str:
    """``<run>/<snapshot>`` of a checkpoint path: ``.../<run>/checkpoints/iter_0005000.pt``.

    Any other file gives ``<parent folder>/<file stem>``; a run name and a snapshot name are
    what tell two generators apart in a sweep over checkpoints.
    """
    if path is None or str(path) in ("", "None", "null"):
        return "no_generator"
    p = PurePath(str(path))
    parent = p.parent
    if parent.name == "checkpoints" and parent.parent.name:
        parent = parent.parent
    return f"{safe_name(parent.name or 'run')}/{safe_name(p.stem)}"


def _short_value(key: str, value: str) -> str:
    """A value as it appears in a directory name: checkpoints as run+snapshot, paths by their last part."""
    if key == "generator":
        return checkpoint_name(value).replace("/", "_")
    if "/" in value and not value.startswith("["):
        return PurePath(value).name or value.strip("/").replace("/", "_")
    return value


def safe_name(text: str) -> str:
    """``text`` as one directory name: no slashes or shell-awkward characters, bounded length."""
    name = _UNSAFE.sub("_", text).strip("._") or "default"
    if len(name) > MAX_NAME:
        digest = hashlib.sha1(name.encode()).hexdigest()[:10]
        name = f"{name[: MAX_NAME - 11]}_{digest}"
    return name


def job_name(overrides: Iterable[str] | None, exclude_keys: Iterable[str] | None = None) -> str:
    """The directory name of one run from its task overrides (see the module docstring)."""
    overrides = [str(o) for o in (overrides or [])]
    experiment = _experiment(overrides)
    if experiment is not None:
        return safe_name(experiment)
    excluded = {str(k) for k in (exclude_keys or [])}
    pairs = sorted(
        (override_key(line), override_value(line))
        for line in overrides
        if override_key(line) not in excluded and not line.startswith("~")
    )
    if not pairs:
        return "default"
    return safe_name(",".join(f"{k}={_short_value(k, v)}" for k, v in pairs))


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def value_name(value: Any) -> str:
    """A config value as a directory name: an enum by its value (``joint``, not ``Optimise.joint``)."""
    if isinstance(value, Enum):
        value = value.value
    if OmegaConf.is_config(value):
        value = ",".join(_as_list(value))
    return safe_name(str(value))


def register_resolvers() -> None:
    """Register the ``biogans.*`` resolvers once (a second import of this module is harmless)."""
    resolvers = {
        "biogans.outputs": lambda tool, overrides=None: outputs_dir(str(tool), _as_list(overrides)),
        "biogans.job_name": lambda overrides=None, exclude=None: job_name(_as_list(overrides), _as_list(exclude)),
        "biogans.checkpoint_name": checkpoint_name,
        "biogans.name": value_name,
    }
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
