"""Checkpoint files: atomic writes, safe loads, and ``load_generator``.

A checkpoint is a dict that ``torch.load(path, weights_only=True)`` reads: tensors and
plain data only.  Every checkpoint has ``format``, ``iteration``, ``config`` (the model
spec, see :mod:`biogans.core.models`), ``generator`` and ``critic`` (state dicts).  The
resumable one (``checkpoints/last.pt``) also has both optimizers, the RNG state, the batch
sampler's position and the resolved run config.

Writes are atomic (:func:`biogans.core.files.atomic_write`), so a kill at any moment leaves
either the old file or the new one, never half a file.  Reading a file and telling a biogans
checkpoint by its format tag live in :mod:`biogans.core.checkpoint_file`, which the 2017
loader (:mod:`biogans.core.models.legacy`) uses too: that module is imported here only
inside :func:`load_generator`, and it never imports this one, so there is no import cycle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from biogans.core.checkpoint_file import FORMAT, is_biogans_checkpoint, load_checkpoint
from biogans.core.errors import CheckpointError
from biogans.core.files import atomic_write

__all__ = [
    "FORMAT",
    "is_biogans_checkpoint",
    "load_checkpoint",
    "load_generator",
    "load_state",
    "require_biogans_checkpoint",
    "save_checkpoint",
]


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (with ``format`` added) atomically."""
    atomic_write(path, lambda f: torch.save({"format": FORMAT, **payload}, f))


def require_biogans_checkpoint(data: dict[str, Any], path: str | Path) -> None:
    """A biogans checkpoint has a format tag, a model spec and a generator state dict."""
    if not is_biogans_checkpoint(data):
        keys = ", ".join(sorted(map(str, data))[:8])
        raise CheckpointError(
            f"{path} is not a biogans checkpoint (no format tag {FORMAT!r}; top-level keys: {keys}). "
            "A state dict from the original 2017 code loads with load_generator(path, model=FAMILY)."
        )
    for key in ("config", "generator", "iteration"):
        if key not in data:
            raise CheckpointError(f"{path} is a biogans checkpoint without {key!r}; the file is incomplete")


def load_generator(path: str | Path, model: str | None = None, device: str | torch.device = "cpu", **spec: Any):
    """The generator stored in a checkpoint, in eval mode, on ``device``.

    A biogans checkpoint rebuilds its generator from the model spec it carries (kept as
    ``generator.spec``: family, class names, image size ...); ``generator.trained`` keeps
    the checkpoint's training ``iteration`` and ``loss`` (both None for a 2017 file).  Call it on
    ``z`` of shape ``(B, nz)`` or ``(B, nz, 1, 1)``: it returns ``(B, channels, H, W)`` in
    [-1, 1] (``(n_classes, B, 2, H, W)`` for conditional models).

    A state dict released with the original 2017 code carries no description of its
    network, so it needs ``model=FAMILY`` (``dcgan``, ``sep``, ``star``, ``independent``,
    ``independent_sep``, ``multichannel``, ``multichannel_sep``); ``**spec`` then overrides
    the family's settings (see :mod:`biogans.core.models.legacy`).
    """
    from biogans.core.models import build_generator

    data = load_checkpoint(path)
    # --- state dicts of the original 2017 code (biogans.core.models.legacy) ---
    if not is_biogans_checkpoint(data):
        from biogans.core.models import legacy

        if model is not None:
            generator = legacy.load_legacy_generator(data, model, source=path, **spec)
            generator.trained = {"iteration": None, "loss": None}
            return generator.to(device).eval()
        legacy.reject_unnamed_legacy_state(data, path)  # a 2017 file needs model=FAMILY
    # --- end of 2017 state dicts ---
    require_biogans_checkpoint(data, path)
    if model is not None and model != data["config"].get("name"):
        raise CheckpointError(f"{path} holds a {data['config'].get('name')!r} generator, not {model!r}")
    spec = {**data["config"], **spec}
    generator = build_generator(spec)
    load_state(generator, data["generator"], path, "generator")
    generator.spec = spec  # what evaluation tools read (class names, family)
    generator.trained = {"iteration": int(data["iteration"]), "loss": data.get("loss")}
    return generator.to(device).eval()


def load_state(module: torch.nn.Module, state: dict[str, Any], path: str | Path, what: str) -> None:
    """``load_state_dict`` with a message that lists the missing and unexpected keys."""
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:400]
        raise CheckpointError(f"the {what} in {path} does not fit the model it describes: {detail}") from exc
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"the {what} in {path} does not fit the model it describes: "
            f"missing keys {list(result.missing_keys)[:6]}, unexpected keys {list(result.unexpected_keys)[:6]}"
        )
