"""Training data of the multi-channel generator: "fake multi-channel" images.

The multi-channel generator renders ``n_classes + 1`` channels at once (red, then one
green per class), but every real image has only two channels: its red cell and the
green of the one protein tagged in it.  Following the paper, each real image of class
``k`` is turned into a full multi-channel image:

* channel 0 is the image's own red times its mask, the mask being ``red > 0``;
* channel ``k + 1`` is the image's own green times its own mask;
* for every other class ``c``, channel ``c + 1`` is the green times the mask of a
  *neighbour*: an image drawn uniformly at random from the ``k`` (5) images of class
  ``c`` whose red channels are closest to this image's red (L2 on pixel values in
  [0, 1]).  Red encodes cell shape and cell-cycle stage, so a neighbour is a cell of the
  same shape and stage, and its green is a plausible green for this cell.

Which mask multiplies a neighbour's green: **the neighbour's own mask** (its own
``red > 0``), the literal reading of "the green x mask of an image".  The alternative,
the target image's mask, would cut the neighbour's green to this cell's outline; as the
neighbours are chosen to have nearly the same red, the two differ only at a few boundary
pixels.  :func:`composite` can do either (``mask_from``) so the choice can be compared.

The neighbour table (``N x n_classes x k`` indices) is computed once, on the device, in
blocks of matrix products, and cached on disk under a key that hashes the data's
content, so a changed pixel rebuilds it and an unchanged data set reuses it.  The draw
of a neighbour is fresh at every batch and comes from the sampler's generator only, so
a resumed run reproduces the batches of an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from biogans.core.data.batches import Batches, normalise, random_flips
from biogans.core.data.lin import LinFolder
from biogans.core.data.neighbours import DEFAULT_CHUNK, nearest
from biogans.core.errors import DataError
from biogans.core.files import atomic_write

__all__ = [
    "N_NEIGHBOURS",
    "TABLE_FORMAT",
    "MultichannelBatches",
    "cached_red_neighbour_table",
    "composite",
    "multichannel_batches",
    "red_neighbour_table",
    "table_cache_key",
]

log = logging.getLogger(__name__)

#: Neighbours per (image, class), as in the paper.
N_NEIGHBOURS = 5
#: Tag stored in (and hashed into the name of) every cache file; bump on any change of
#: how the table is computed or stored, so that old files are never reused.
TABLE_FORMAT = "biogans-red-nn-v1"

_LOAD_ERRORS = (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, OSError)


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return k


def _check_folder(folder: LinFolder, k: int) -> None:
    """Every class needs ``k`` neighbours for every image: ``k + 1`` images of its own
    (an image is not its own neighbour), which also covers the ``k`` other classes need."""
    if folder.images.dim() != 4 or folder.images.shape[1] < 1 or folder.images.dtype != torch.uint8:
        raise DataError(
            f"expected uint8 images of shape (N, 2, H, W), got {tuple(folder.images.shape)} {folder.images.dtype}"
        )
    if len(folder.labels) != len(folder.images):
        raise DataError(f"{len(folder.labels)} labels for {len(folder.images)} images")
    small = {name: n for name, n in folder.class_counts().items() if n < k + 1}
    if small:
        listed = ", ".join(f"{name!r} has {n}" for name, n in small.items())
        raise DataError(
            f"the multi-channel training data needs at least {k + 1} images per class "
            f"({k} nearest neighbours besides the image itself); {listed} "
            f"(dataset at {folder.root}, counts: {folder.class_counts()})"
        )


def red_neighbour_table(
    folder: LinFolder,
    k: int = N_NEIGHBOURS,
    device: str | torch.device | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    """Indices of the ``k`` images of every class nearest to every image, by red alone.

    Returns an int64 tensor ``(N, n_classes, k)`` on ``device`` (default: where
    ``folder.images`` lives): ``table[i, c]`` lists indices into ``folder.images`` of
    images of class ``c``, nearest first, by L2 distance between red channels.  An image
    is never its own neighbour.  The search is exact and breaks ties by the smaller index
    (:func:`biogans.core.data.neighbours.nearest`), so the table is a function of the data and
    not of the hardware; blocks of at most ``chunk x chunk`` pairs bound the memory.

    Raises:
        DataError: a class with fewer than ``k + 1`` images.
    """
    k = _check_k(k)
    _check_folder(folder, k)
    dev = torch.device(device) if device is not None else folder.images.device
    n = len(folder.images)
    red = folder.images[:, 0].to(dev)
    labels = folder.labels.to(dev)
    ids = torch.arange(n, device=dev)
    table = torch.empty(n, len(folder.class_names), k, dtype=torch.int64, device=dev)
    for c in range(len(folder.class_names)):
        members = torch.nonzero(labels == c, as_tuple=True)[0]  # ascending: ties by position = by index
        index, _ = nearest(red, red[members], k, chunk, query_ids=ids, pool_ids=members)
        table[:, c] = members[index]
    return table


def table_cache_key(folder: LinFolder, k: int = N_NEIGHBOURS) -> str:
    """Hash of everything the table depends on: red pixels, labels, class names, k.

    The content is hashed, not the file names, so that an edited image with an
    unchanged name rebuilds the table.  Green pixels are left out on purpose: the table
    does not depend on them (the composite reads green from the live images), so
    changing a green pixel must not cost a rebuild.
    """
    images = folder.images.detach().cpu()
    red = images[:, 0].contiguous()
    labels = folder.labels.detach().cpu().to(torch.int64).contiguous()
    header = json.dumps(
        {
            "format": TABLE_FORMAT,
            "k": k,
            "shape": list(red.shape),
            "class_names": list(folder.class_names),
        },
        ensure_ascii=True,
        separators=(",", ":"),
    )
    digest = hashlib.sha256(header.encode("ascii"))
    digest.update(labels.numpy().astype("<i8").tobytes())
    digest.update(red.numpy().tobytes())
    return digest.hexdigest()[:24]


def _problem_with(payload: Any, key: str, folder: LinFolder, k: int) -> str | None:
    """Why a loaded cache payload cannot be used as the table of ``folder``; None if it can."""
    if not isinstance(payload, dict):
        return f"it holds a {type(payload).__name__}, not a dict"
    if payload.get("format") != TABLE_FORMAT or payload.get("key") != key:
        return "its format tag or key does not match its name"
    table = payload.get("table")
    n, n_classes = len(folder.images), len(folder.class_names)
    if not isinstance(table, torch.Tensor) or table.dtype != torch.int64:
        return "it has no int64 table"
    if tuple(table.shape) != (n, n_classes, k):
        return f"its table has shape {tuple(table.shape)}, expected {(n, n_classes, k)}"
    if table.numel() and (int(table.min()) < 0 or int(table.max()) >= n):
        return "its table has indices out of range"
    labels = folder.labels.cpu()
    if not bool((labels[table] == torch.arange(n_classes)[None, :, None]).all()):
        return "its table lists neighbours of the wrong class"
    own = table[torch.arange(n), labels]
    if bool((own == torch.arange(n)[:, None]).any()):
        return "its table lists an image as its own neighbour"
    return None


def cached_red_neighbour_table(
    folder: LinFolder,
    cache_dir: str | Path,
    k: int = N_NEIGHBOURS,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """:func:`red_neighbour_table`, stored in ``<cache_dir>/red_nn/<key>.pt`` and reused.

    ``key`` is :func:`table_cache_key`.  A file that cannot be read or does not pass the
    checks (shape, index range, classes, self-exclusion) is rebuilt with a warning; a
    cache folder that cannot be written only costs a warning.  Returns the table on
    ``device`` (default: where ``folder.images`` lives).
    """
    k = _check_k(k)
    _check_folder(folder, k)
    dev = torch.device(device) if device is not None else folder.images.device
    key = table_cache_key(folder, k)
    path = Path(cache_dir).expanduser() / "red_nn" / f"{key}.pt"
    if path.is_file():
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except _LOAD_ERRORS as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            problem: str | None = f"it cannot be read ({first})"
        else:
            problem = _problem_with(payload, key, folder, k)
        if problem is None:
            log.info("reusing the red nearest-neighbour table %s", path)
            return payload["table"].to(dev)
        log.warning("rebuilding the red nearest-neighbour table: the cache file %s is unusable: %s", path, problem)
    started = time.perf_counter()
    table = red_neighbour_table(folder, k, device=dev)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - started
    payload = {
        "format": TABLE_FORMAT,
        "key": key,
        "k": k,
        "class_names": list(folder.class_names),
        "table": table.cpu(),
    }
    try:
        atomic_write(path, lambda f: torch.save(payload, f))
    except OSError as exc:
        log.warning("could not cache the red nearest-neighbour table at %s: %s", path, exc.strerror or exc)
    log.info(
        "built the red nearest-neighbour table (%d images, %d classes, k=%d) on %s in %.2f s; cached at %s",
        len(folder.images),
        len(folder.class_names),
        k,
        dev,
        seconds,
        path,
    )
    return table


def composite(
    images_u8: torch.Tensor,
    labels: torch.Tensor,
    table: torch.Tensor,
    idx: torch.Tensor,
    rng: torch.Generator,
    mask_from: Literal["neighbour", "target"] = "neighbour",
) -> torch.Tensor:
    """The fake multi-channel images of ``images_u8[idx]``: uint8 ``(B, n_classes + 1, H, W)``.

    Channel 0 is the image's red times its mask (``red > 0``), channel ``label + 1`` its
    own green times its own mask, and channel ``c + 1`` of every other class ``c`` the
    green of one of ``table[i, c]``, drawn uniformly and afresh at every call from
    ``rng`` (on the images' device), times that neighbour's own mask
    (``mask_from="neighbour"``, the default, see the module docstring) or times the
    target image's mask (``mask_from="target"``).  One gather builds the whole batch.
    """
    if mask_from not in ("neighbour", "target"):
        raise ValueError(f"mask_from must be 'neighbour' or 'target', got {mask_from!r}")
    device = images_u8.device
    idx = idx.to(device)
    n_classes, k = table.shape[1], table.shape[2]
    choice = torch.randint(k, (len(idx), n_classes, 1), generator=rng, device=device)
    source = table[idx].gather(2, choice).squeeze(2)  # (B, n_classes): whose green fills channel c + 1
    rows = torch.arange(len(idx), device=device)
    source[rows, labels[idx]] = idx  # the own class: the image's own green
    red = images_u8[idx, 0]  # (B, H, W)
    own_mask = red > 0
    green = images_u8[source, 1]  # (B, n_classes, H, W)
    if mask_from == "neighbour":
        green = green * (images_u8[source, 0] > 0)
    else:
        green = green * own_mask[:, None]
    return torch.cat([(red * own_mask)[:, None], green], dim=1)


class MultichannelBatches(Batches):
    """Endless batches of fake multi-channel images, ``(B, n_classes + 1, H, W)`` in [-1, 1].

    One pool (the whole training set, every class) sampled in epochs as by
    :class:`~biogans.core.data.batches.Batches`; each batch's images are composited
    (:func:`composite`), flipped (the same flip for every channel of an image) and
    normalised.  The position is saved by the inherited ``state_dict``; neighbour draws
    and flips come from ``rng`` alone, so restoring both reproduces the batches.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        table: torch.Tensor,
        batch_size: int,
        rng: torch.Generator,
        class_names: Sequence[str] | None = None,
        augment: bool = True,
        mask_from: Literal["neighbour", "target"] = "neighbour",
    ) -> None:
        n = len(images)
        if len(labels) != n or table.dim() != 3 or table.shape[0] != n:
            raise DataError(
                f"images ({n}), labels ({len(labels)}) and neighbour table {tuple(table.shape)} do not match"
            )
        names = list(class_names) if class_names is not None else [str(c) for c in range(table.shape[1])]
        if len(names) != table.shape[1]:
            raise DataError(f"{len(names)} class names for a neighbour table of {table.shape[1]} classes")
        pool_name = f"the training set ({', '.join(names)})"
        super().__init__(
            images, [torch.arange(n)], batch_size, rng, stacked=False, pool_names=[pool_name], augment=augment
        )
        self.labels = labels.to(images.device)
        self.table = table.to(images.device)
        self.class_names = names
        self.mask_from = mask_from

    def next(self) -> torch.Tensor:
        """The next batch: composited, flipped at random, in [-1, 1]."""
        batch = composite(self.images, self.labels, self.table, self.next_indices(), self.rng, self.mask_from)
        if self.augment:
            batch = random_flips(batch, self.rng)
        return normalise(batch)


def multichannel_batches(
    folder: LinFolder, images: torch.Tensor, rng: torch.Generator, *, batch_size: int, cache_dir: str | Path
) -> MultichannelBatches:
    """The multi-channel training view of ``folder`` (what :mod:`biogans.tasks.training` calls).

    ``images`` is ``folder.images`` already on the training device; the neighbour table is
    computed there (or read from ``cache_dir``, the data set's cache), and batches have
    ``batch_size`` images.
    """
    table = cached_red_neighbour_table(folder, Path(cache_dir).expanduser(), k=N_NEIGHBOURS, device=images.device)
    return MultichannelBatches(images, folder.labels, table, int(batch_size), rng, class_names=folder.class_names)
