"""What every Hydra entry point shares: the configs, typed values once, the check gate, errors.

An entry point (``biogans/<tool>.py``) is a Hydra main that hands its composed config to
:func:`run_tool`, which

1. refuses keys the schema does not know (:func:`check_schema`: Hydra lets ``+key=``
   additions through), turns the config into the typed dataclasses of
   :mod:`biogans.config` once (enums as members, interpolations resolved) and runs the one
   check gate (:func:`biogans.config.check_config`), all before any data is read;
2. runs the task on Hydra's run directory and prints the task's one-line summary.

A user error (:class:`biogans.core.errors.BiogansError`) ends a single run with its message on
stderr and exit status 1, no traceback.  In a multirun sweep a failing job must not kill
the sweep: the error (with its traceback, for bugs) goes to that job's log and the sweep
goes on; the job's own files record the failure.

Importing this module registers the schemas in Hydra's ConfigStore (the primary YAMLs
name them first in their defaults lists).
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from biogans.config import SCHEMAS, check_config
from biogans.core.errors import BiogansError, ConfigError
from biogans.core.resources import config_dir

T = TypeVar("T")
log = logging.getLogger("biogans")

#: Absolute path of the Hydra configs (``conf/`` of a checkout, or the installed copy).
CONFIG_DIR = str(config_dir())


def register_configs() -> None:
    """Register each tool's schema as ``<tool>_schema``; the primary YAMLs name it first."""
    cs = ConfigStore.instance()
    for tool, schema in SCHEMAS.items():
        cs.store(name=f"{tool}_schema", node=schema)


register_configs()


def check_schema(cfg: DictConfig, schema: type) -> None:
    """Refuse keys the schema does not know.

    Hydra's typed merge already rejects ``model.ngff=3``; this also catches keys added with
    a ``+`` override (``+train.checkpoint_evry=5``), which Hydra lets through.
    """
    try:
        OmegaConf.merge(OmegaConf.structured(schema), OmegaConf.to_container(cfg, resolve=False))
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "?"
        raise ConfigError(f"config key {key!r} is not known here: {str(exc).splitlines()[0]}") from exc


def typed_config(cfg: DictConfig) -> Any:
    """The composed config as the typed dataclasses of :mod:`biogans.config`, checked.

    Unknown keys, values no YAML gave, interpolations that do not resolve and every
    range/value rule (:func:`biogans.config.check_config`) fail here with a
    :class:`ConfigError` naming the key.
    """
    schema = OmegaConf.get_type(cfg)
    if not (isinstance(schema, type) and dataclasses.is_dataclass(schema)):
        raise TypeError(f"the config is not a composed tool config (its type is {schema}); see conf/<tool>.yaml")
    check_schema(cfg, schema)
    try:
        typed = OmegaConf.to_object(cfg)
    except MissingMandatoryValue as exc:
        key = getattr(exc, "full_key", None) or "?"
        raise ConfigError(f"{key} has no value: give {key}=...") from exc
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "?"
        raise ConfigError(f"config key {key!r}: {str(exc).splitlines()[0]}") from exc
    check_config(typed)
    return typed


def run_dir() -> Path:
    """The output directory Hydra made for this job (``hydra.run.dir`` or the sweep subdir)."""
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def is_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:
        return False


def run_tool(tool: str, cfg: DictConfig) -> Any:
    """The body of every entry point: typed values and checks, the task under the task
    contract (:func:`biogans.tasks.contract.run_task`: records, reruns, refusals), its summary line."""

    def body() -> Any:
        typed = typed_config(cfg)
        from biogans.tasks.contract import TASKS, run_task

        out = run_dir()
        record = run_task(tool, typed, out)
        print(importlib.import_module(TASKS[tool]).summary_line(record, out))
        return record

    return run_entry(tool, body)


def run_entry(name: str, fn: Callable[[], T]) -> T | dict[str, Any]:
    """Run an entry point's body with the error policy of the module docstring."""
    try:
        return fn()
    except BiogansError as exc:
        log.error("%s", exc)
        if is_multirun():
            return {"status": "failed", "error": str(exc)}
        print(f"biogans.{name}: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:
        if not is_multirun():
            raise
        log.error("job failed with an unexpected error:\n%s", traceback.format_exc())
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
