"""What every Hydra entry point shares: where the configs are, and how errors end a run.

A user error (:class:`biogans.core.errors.BiogansError`) ends a single run with its message on
stderr and exit status 1, no traceback.  In a multirun sweep a failing job must not kill
the sweep: the error (with its traceback, for bugs) goes to that job's log and the sweep
goes on; the job's own files (``metrics.json``) record the failure.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from biogans.core.errors import BiogansError

T = TypeVar("T")
log = logging.getLogger("biogans")


def config_dir() -> str:
    """Absolute path of the Hydra configs: the repository's ``conf/``, or the installed copy."""
    package = Path(__file__).resolve().parent
    repo_conf = package.parent / "conf"  # a checkout (editable install)
    if (repo_conf / "train.yaml").is_file():
        return str(repo_conf)
    return str(package / "conf")  # a wheel installs conf/ as biogans/conf


CONFIG_DIR = config_dir()


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
