"""Reading a checkpoint file safely, and telling a biogans checkpoint from a 2017 state dict.

The small base that :mod:`biogans.core.checkpoint` (biogans checkpoints, ``load_generator``)
and :mod:`biogans.core.models.legacy` (the 2017 files) both stand on, so that neither
imports the other at module level.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from biogans.core.errors import CheckpointError

__all__ = ["FORMAT", "is_biogans_checkpoint", "load_checkpoint"]

#: The ``format`` tag every biogans checkpoint carries.
FORMAT = "biogans-checkpoint-v1"


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; clear errors for missing or foreign files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint (corrupt or another kind of file): {first}"
        ) from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} holds a {type(data).__name__}, not a checkpoint dict")
    return data


def is_biogans_checkpoint(data: Any) -> bool:
    """Whether ``data`` (a loaded checkpoint) carries the biogans format tag."""
    return isinstance(data, Mapping) and data.get("format") == FORMAT
