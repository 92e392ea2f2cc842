"""Procedural LIN-like data: two-channel fluorescence crops of fission-yeast cells.

The real LIN dataset cannot be downloaded by this project, so the default run and the
tests use images made here instead.  They are written to disk in exactly the LIN layout
(``<prefix>_train/<Class>/<cell>.png``, RGB, R = red, G = green, B = 0) so that real and
synthetic data share one loading path (:func:`biogans.core.data.lin.read_lin_folder`).

What the images model, and why:

* **Red (Bgs4, a cell-wall marker).**  One rod-shaped cell (a capsule), roughly centred
  and horizontal as in the aligned LIN crops.  A cell-cycle stage ``s`` in ``[0, 1]``
  drives its length (about half the crop width at birth, about 90% before division); the
  wall is a bright outline over a dim interior, brighter at the growing tips (one tip
  early, both after "new end take-off"), and a septum closes across the middle for
  ``s`` above about 0.8.  Geometry is the only thing the red channel encodes, which is
  what the paper's green-on-red generators rely on.
* **Green (one tagged protein per class).**  Every pattern is computed in the cell's own
  frame (``u`` along the axis, ``v`` across it) and from the same stage ``s``, so the
  green channel is a function of the red cell plus class-specific randomness: a GAN has
  to learn that dependency, which is the point of the paper's separable models.  Some
  pairs are deliberately close (Arp3/Fim1, Tea1/Tea4), as they are in the real data.
* **Optics.**  Gaussian blur, shot noise with a per-cell photon budget, read noise and a
  small background offset, then rounding to 8 bits: mostly dark background, bright cells,
  few saturated pixels.

Determinism: all randomness comes from ``numpy.random.Generator`` objects seeded from
``(seed, crc32(class name), chunk index)``, never from a global RNG, and chunks are
independent, so the thread count does not matter.  Image math runs in float64 with a
fixed order of additions (the blur is explicit shifted sums, not a BLAS convolution);
the last-bit differences that another CPU's vector width or libm could cause are about
1e-13 of a grey level and practically never change the 8-bit result.

Speed: numpy, vectorised over small chunks of cells (no per-pixel Python; a chunk's
working set stays in the L2 cache), about 3000 images per second per core.  numpy rather
than torch because torch's OpenMP threads spin-wait when another process competes for
the cores, which made rendering 20x slower on a busy two-core machine.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import time
import warnings
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision.io import write_png

from biogans.core.errors import DataError

__all__ = [
    "GENERATOR_VERSION",
    "MIN_SIZE",
    "PAPER_CLASSES",
    "CellInfo",
    "class_pattern",
    "ensure_synthetic",
    "render_cells",
    "render_cells_with_info",
    "write_synthetic_lin",
]

logger = logging.getLogger(__name__)

#: The 8 proteins of the paper (6 used for training, Fim1 and Tea4 added in Table 1).
PAPER_CLASSES: tuple[str, ...] = ("Alp14", "Arp3", "Cki2", "Mkh1", "Sid2", "Tea1", "Fim1", "Tea4")

#: Bumped whenever the pixels produced for given arguments change; part of the cache key
#: of :func:`ensure_synthetic`, so a stale cache is never reused after a change here.
GENERATOR_VERSION: int = 1

#: Smallest height or width accepted: below this a cell is a few pixels and the patterns
#: (tips, septum, spots) blur into one blob.
MIN_SIZE: int = 16

# Cells are rendered in chunks of about this many pixels (16 crops of 48 x 80): the
# float64 working set of a chunk then stays in a 1 MiB L2 cache, which measured about 1.7x
# faster than chunks of 64 crops.  Each chunk has its own RNG stream, so rendering more
# cells only appends cells.  The chunk size depends on the image size only, never on the
# machine, because it decides which random numbers each cell gets.
_CHUNK_PIXELS = 16 * 48 * 80

# Chunks are independent, so they are spread over a few threads (numpy releases the GIL
# inside array operations); the output does not depend on the thread count.
_MAX_THREADS = 4

# Name of the completion marker of a cached dataset; written last.
_MANIFEST = "manifest.json"

# Characters that are not allowed in a folder name on at least one common filesystem.
_BAD_NAME_CHARS = set('/\\<>:"|?*')


# ----------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise DataError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise DataError(f"{name} must be at least 1, got {value}")
    return int(value)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _check_size(height: Any, width: Any) -> tuple[int, int]:
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise DataError(f"{name} must be an integer, got {value!r}")
        if value < MIN_SIZE:
            raise DataError(f"{name}={value} is too small to draw a cell; it must be at least {MIN_SIZE} pixels")
    return int(height), int(width)


def _check_folder_name(name: Any, what: str = "class name") -> str:
    """A class name (or prefix) must be one folder name on any OS and visible to the reader."""
    if not isinstance(name, str) or not name:
        raise DataError(f"{what} must be a non-empty string, got {name!r}")
    bad = sorted({c for c in name if c in _BAD_NAME_CHARS or ord(c) < 32})
    if bad:
        raise DataError(f"{what} {name!r} is not a valid folder name (it contains {''.join(bad)!r})")
    if name.startswith("."):
        # The LIN reader skips hidden entries, so such a folder would silently vanish.
        raise DataError(f"{what} {name!r} is not a valid folder name (it must not start with '.')")
    if name != name.strip() or name.endswith("."):
        raise DataError(f"{what} {name!r} is not a valid folder name (leading/trailing space or trailing '.')")
    return name


def _check_classes(classes: Any) -> list[str]:
    if isinstance(classes, str):
        raise DataError(
            f"classes must be a list of class names, not the string {classes!r} "
            f"(write [{classes!r}] for a single class)"
        )
    try:
        names = list(classes)
    except TypeError:
        raise DataError(f"classes must be a list of class names, got {classes!r}") from None
    if not names:
        raise DataError("classes is empty: name at least one class")
    seen: dict[str, str] = {}
    for name in names:
        _check_folder_name(name)
        # Case-insensitive filesystems (macOS, Windows) would merge "Tea1" and "tea1".
        key = name.casefold()
        if key in seen:
            raise DataError(f"class {name!r} is listed twice in classes={names!r} (as {seen[key]!r})")
        seen[key] = name
    return names


# ----------------------------------------------------------------------------------------
# Per-class pattern specifications
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """Which green pattern a class draws (``family``) and with which parameters."""

    family: str
    params: dict[str, float]


# Defaults of each family; a class spec overrides some of them.  Lengths are in pixels of
# a 48-pixel-high crop and get scaled with the image; ``*_stage`` values are stages in
# [0, 1]; everything else is a relative amplitude or a fraction.
_FAMILY_DEFAULTS: dict[str, dict[str, float]] = {
    # microtubule bundles along the axis, plus-end dots, a spindle bar in mitosis
    "filaments": {
        "amp": 0.8,
        "line_sigma": 0.75,
        "end_dot": 0.7,
        "spindle_stage": 0.72,
        "spindle": 1.3,
        "cyto": 0.08,
        "nucleus": 0.15,
        "curvature": 0.25,
    },
    # actin patches at the growing tips, moving to the division site
    "patches": {
        "n_spots": 14,
        "amp": 1.0,
        "sigma": 0.85,
        "bipolar_stage": 0.4,
        "medial_stage": 0.8,
        "medial_spread": 1.3,
        "cortex": 0.2,
        "ring": 0.0,
        "cyto": 0.06,
    },
    # diffuse cytoplasm, optionally dimmer or brighter at the nucleus, at tips, at septum
    "diffuse": {
        "cyto": 1.0,
        "uneven": 0.3,
        "nucleus_dim": 0.55,
        "nucleus_bright": 0.0,
        "tips": 0.0,
        "septum": 0.0,
    },
    # spindle pole body dots near the nucleus, a medial ring late
    "spb_ring": {
        "amp": 1.0,
        "sigma": 0.9,
        "separation_stage": 0.6,
        "ring_stage": 0.82,
        "ring": 0.9,
        "cyto": 0.1,
        "nucleus": 0.18,
    },
    # polarity spots at the cell tips, monopolar when the cell is young
    "tips": {
        "n_spots": 8,
        "amp": 1.0,
        "sigma": 0.9,
        "rho_lo": 0.55,
        "rho_hi": 0.9,
        "phi_max": 0.55,
        "bipolar_stage": 0.4,
        "new_end_early": 0.15,
        "cyto": 0.05,
        "mt_dots": 0.25,
    },
}

_PAPER_SPECS: dict[str, _Spec] = {
    "Alp14": _Spec("filaments", {}),
    "Arp3": _Spec("patches", {}),
    "Cki2": _Spec("diffuse", {}),
    "Mkh1": _Spec("diffuse", {"cyto": 0.25, "uneven": 0.2, "nucleus_dim": 0.1, "tips": 0.9, "septum": 0.9}),
    "Sid2": _Spec("spb_ring", {}),
    "Tea1": _Spec("tips", {}),
    # Close to Arp3 on purpose: more, slightly larger patches, an earlier move to the
    # middle and a continuous ring under them.
    "Fim1": _Spec(
        "patches",
        {
            "n_spots": 16,
            "sigma": 0.95,
            "bipolar_stage": 0.35,
            "medial_stage": 0.77,
            "medial_spread": 1.6,
            "cortex": 0.25,
            "ring": 0.35,
            "cyto": 0.08,
        },
    ),
    # Close to Tea1 on purpose: weaker, more spread tip signal, more cytoplasm.
    "Tea4": _Spec(
        "tips",
        {
            "amp": 0.8,
            "sigma": 1.05,
            "rho_lo": 0.4,
            "rho_hi": 0.9,
            "phi_max": 0.8,
            "bipolar_stage": 0.45,
            "new_end_early": 0.2,
            "cyto": 0.09,
            "mt_dots": 0.15,
        },
    ),
}

# Patterns that names outside the paper's list can get; "nuclear" is the diffuse family
# with a bright nucleus instead of a dim one.
_GENERIC_SPECS: tuple[_Spec, ...] = (
    _Spec("filaments", {}),
    _Spec("patches", {}),
    _Spec("diffuse", {}),
    _Spec("diffuse", {"cyto": 0.15, "uneven": 0.15, "nucleus_dim": 0.0, "nucleus_bright": 1.0}),
    _Spec("spb_ring", {}),
    _Spec("tips", {}),
)

_INT_PARAMS = {"n_spots"}
_STAGE_PARAMS = {"bipolar_stage", "medial_stage", "spindle_stage", "separation_stage", "ring_stage"}


def _name_crc(name: str) -> int:
    """A hash of a class name that is the same in every process (unlike ``hash()``)."""
    return zlib.crc32(name.encode("utf-8"))


def _class_spec(class_name: str) -> _Spec:
    if class_name in _PAPER_SPECS:
        spec = _PAPER_SPECS[class_name]
        return _Spec(spec.family, {**_FAMILY_DEFAULTS[spec.family], **spec.params})
    crc = _name_crc(class_name)
    base = _GENERIC_SPECS[crc % len(_GENERIC_SPECS)]
    params = {**_FAMILY_DEFAULTS[base.family], **base.params}
    # Perturb the parameters by the name, so two unknown names of one family still differ.
    rng = np.random.default_rng([crc, 1])
    out: dict[str, float] = {}
    for key in sorted(params):
        value = params[key]
        if key in _INT_PARAMS:
            out[key] = float(max(4, round(value * rng.uniform(0.75, 1.25))))
        elif key in _STAGE_PARAMS:
            out[key] = float(np.clip(value + rng.uniform(-0.06, 0.06), 0.1, 0.9))
        else:
            out[key] = float(value * rng.uniform(0.8, 1.2))
    return _Spec(base.family, out)


def class_pattern(class_name: str) -> str:
    """The pattern family a class name is drawn with (for logs and tests).

    One of ``filaments``, ``patches``, ``diffuse``, ``spb_ring``, ``tips``.
    """
    return _class_spec(_check_folder_name(class_name)).family


# ----------------------------------------------------------------------------------------
# Geometry
# ----------------------------------------------------------------------------------------


@dataclass
class CellInfo:
    """Per-cell parameters of rendered images (float64 tensors of shape ``(n,)``).

    Exposed so that tests and analyses can relate pixels to the hidden cell-cycle stage.
    ``length`` is the tip-to-tip length and ``diameter`` the width, both in pixels;
    ``angle`` is the tilt in radians; ``old_end`` is +1 if the tip with the stronger
    early growth is on the right, -1 if on the left.
    """

    stage: torch.Tensor
    length: torch.Tensor
    diameter: torch.Tensor
    angle: torch.Tensor
    centre_x: torch.Tensor
    centre_y: torch.Tensor
    old_end: torch.Tensor


@dataclass
class _Cells:
    """One chunk of cells.

    Per-cell parameters are ``(n, 1, 1)`` arrays (they broadcast over pixels; use
    :meth:`col` for an ``(n, 1)`` view that broadcasts over spots), per-pixel maps are
    ``(n, H, W)``.
    """

    s: np.ndarray  # stage
    half_len: np.ndarray  # half tip-to-tip length
    r: np.ndarray  # radius
    a: np.ndarray  # half length of the cylindrical part
    cx: np.ndarray
    cy: np.ndarray
    cos: np.ndarray
    sin: np.ndarray
    old_end: np.ndarray  # +-1
    u: np.ndarray  # along-axis coordinate of every pixel
    v: np.ndarray  # across-axis coordinate
    d: np.ndarray  # signed distance to the cell outline (negative inside)
    inside: np.ndarray  # soft inside mask in [0, 1]
    xs: np.ndarray  # pixel x coordinates (W,)
    ys: np.ndarray  # pixel y coordinates (H,)
    scale: float  # pixel scale relative to a 48-pixel-high crop

    @property
    def n(self) -> int:
        return self.s.shape[0]

    @staticmethod
    def col(x: np.ndarray) -> np.ndarray:
        return x.reshape(-1, 1)


def _px(x: np.ndarray) -> np.ndarray:
    """A per-cell vector shaped to broadcast over ``(n, H, W)``."""
    return np.asarray(x, dtype=np.float64).reshape(-1, 1, 1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp overflows to inf far outside: the result is then 0, as it should be
        return 1.0 / (1.0 + np.exp(-x))


def _ramp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 below ``lo``, 1 above ``hi``, smooth (smoothstep) in between."""
    t = np.clip((x - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _gauss(x: np.ndarray, sigma: float | np.ndarray) -> np.ndarray:
    z = x / sigma
    return np.exp(-0.5 * z * z)


def _sample_cells(rng: np.random.Generator, n: int, height: int, width: int) -> _Cells:
    scale = height / 48.0
    s = rng.uniform(0.0, 1.0, n)
    length = width * (0.5 + 0.4 * s) * (1.0 + 0.04 * rng.standard_normal(n))
    length = np.clip(length, 0.42 * width, 0.95 * width)
    radius = (height / 6.0) * (1.0 + 0.06 * rng.standard_normal(n))
    radius = np.minimum(np.clip(radius, 0.8 * height / 6.0, 1.25 * height / 6.0), length / 2.0)
    angle = np.deg2rad(np.clip(3.0 * rng.standard_normal(n), -8.0, 8.0))
    # Centre jitter, limited so that the whole cell stays inside the crop.
    room_x = np.maximum((width - length) / 2.0 - 1.0, 0.0)
    room_y = np.maximum((height - 2.0 * radius) / 2.0 - 1.0, 0.0)
    jx = np.clip(1.5 * scale * rng.standard_normal(n), -room_x, room_x)
    jy = np.clip(1.0 * scale * rng.standard_normal(n), -room_y, room_y)
    old_end = np.where(rng.uniform(size=n) < 0.5, -1.0, 1.0)

    cx, cy = _px((width - 1) / 2.0 + jx), _px((height - 1) / 2.0 + jy)
    cos, sin = _px(np.cos(angle)), _px(np.sin(angle))
    half_len, r = _px(length / 2.0), _px(radius)
    a = np.maximum(half_len - r, 0.0)
    xs = np.arange(width, dtype=np.float64)
    ys = np.arange(height, dtype=np.float64)
    dx = xs.reshape(1, 1, -1) - cx
    dy = ys.reshape(1, -1, 1) - cy
    u = dx * cos + dy * sin
    v = dy * cos - dx * sin
    q = np.maximum(np.abs(u) - a, 0.0)
    d = np.sqrt(q * q + v * v) - r
    return _Cells(
        s=_px(s),
        half_len=half_len,
        r=r,
        a=a,
        cx=cx,
        cy=cy,
        cos=cos,
        sin=sin,
        old_end=_px(old_end),
        u=u,
        v=v,
        d=d,
        inside=_sigmoid(-d / 0.6),
        xs=xs,
        ys=ys,
        scale=scale,
    )


def _cell_info(c: _Cells) -> dict[str, np.ndarray]:
    """The fields of :class:`CellInfo` for one chunk, as flat arrays."""
    fields = {
        "stage": c.s,
        "length": 2.0 * c.half_len,
        "diameter": 2.0 * c.r,
        "angle": np.arctan2(c.sin, c.cos),
        "centre_x": c.cx,
        "centre_y": c.cy,
        "old_end": c.old_end,
    }
    return {k: v.reshape(-1) for k, v in fields.items()}


# ----------------------------------------------------------------------------------------
# Drawing primitives
# ----------------------------------------------------------------------------------------


def _spots(
    c: _Cells,
    u: np.ndarray,
    v: np.ndarray,
    amp: np.ndarray,
    sigma_u: np.ndarray | float,
    sigma_v: np.ndarray | float | None = None,
) -> np.ndarray:
    """Sum of Gaussian spots given in cell coordinates; arrays are ``(n, P)``.

    The spots are axis-aligned in the image (cells tilt by a few degrees only), which
    makes each one an outer product of a column and a row profile: the whole sum is one
    batched matrix product instead of ``P`` full-image exponentials.
    """
    cx, cy, cos, sin = c.col(c.cx), c.col(c.cy), c.col(c.cos), c.col(c.sin)
    x0 = cx + u * cos - v * sin
    y0 = cy + u * sin + v * cos
    su = np.broadcast_to(np.asarray(sigma_u, dtype=np.float64) * c.scale, x0.shape)
    sv = su if sigma_v is None else np.broadcast_to(np.asarray(sigma_v, dtype=np.float64) * c.scale, x0.shape)
    gx = _gauss(c.xs.reshape(1, 1, -1) - x0[..., None], su[..., None])  # (n, P, W)
    gy = _gauss(c.ys.reshape(1, 1, -1) - y0[..., None], sv[..., None]) * amp[..., None]  # (n, P, H)
    return np.matmul(gy.transpose(0, 2, 1), gx)


def _tip_positions(
    rng: np.random.Generator, c: _Cells, ends: np.ndarray, rho_lo: float, rho_hi: float, phi_max: float
) -> tuple[np.ndarray, np.ndarray]:
    """Random points inside the hemispherical caps; ``ends`` (n, P) holds +-1 per point."""
    r = c.col(c.r)
    rho = rng.uniform(rho_lo, rho_hi, ends.shape) * r
    phi = rng.uniform(-phi_max, phi_max, ends.shape)
    return ends * (c.col(c.a) + rho * np.cos(phi)), rho * np.sin(phi)


def _end_choice(rng: np.random.Generator, c: _Cells, p: int, bipolar_stage: float, new_end_early: float) -> np.ndarray:
    """For each of ``p`` tip features per cell, which end (+-1) it sits at.

    Young cells grow from the old end only (monopolar); after "new end take-off" around
    ``bipolar_stage`` both ends are equally likely.
    """
    w_new = new_end_early + (0.5 - new_end_early) * _sigmoid((c.col(c.s) - bipolar_stage) / 0.05)
    old = c.col(c.old_end)
    return np.where(rng.uniform(size=(c.n, p)) < w_new, -old, old)


def _nucleus(rng: np.random.Generator, c: _Cells) -> np.ndarray:
    """A nucleus-shaped blob (two of them after mitosis), peak about 1."""
    n = c.n
    half, r = c.col(c.half_len), c.col(c.r)
    late = c.col(c.s) > 0.8
    offset = np.where(late, 0.5 * half, 0.0)
    u = np.concatenate([-offset, offset], 1) + rng.normal(0.0, 0.06, (n, 2)) * half
    v = rng.normal(0.0, 0.08, (n, 2)) * r
    amp = np.concatenate([np.ones((n, 1)), late.astype(np.float64)], 1)
    size = (0.55 + 0.05 * rng.standard_normal((n, 1))) * r / c.scale
    return _spots(c, u, v, amp, size * 1.15, size * 0.95)


def _uneven(rng: np.random.Generator, c: _Cells, strength: float) -> np.ndarray:
    """Low-frequency multiplicative unevenness ``1 + strength * noise`` inside the cell."""
    n, k = c.n, 5
    u = rng.uniform(-1.0, 1.0, (n, k)) * c.col(c.half_len)
    v = rng.uniform(-0.7, 0.7, (n, k)) * c.col(c.r)
    field = _spots(c, u, v, rng.standard_normal((n, k)), rng.uniform(3.0, 6.0, (n, k)))
    return np.maximum(1.0 + strength * field, 0.0)


def _septum_band(c: _Cells, sigma: float) -> np.ndarray:
    return _gauss(c.u, sigma * c.scale) * c.inside


# ----------------------------------------------------------------------------------------
# Red channel
# ----------------------------------------------------------------------------------------


def _red(rng: np.random.Generator, c: _Cells) -> np.ndarray:
    n, sc = c.n, c.scale
    wall = _gauss(c.d, 0.9 * sc)
    interior = _px(rng.uniform(0.12, 0.3, n)) * _sigmoid(-(c.d + 0.8 * sc) / (0.8 * sc))
    # Bgs4 at the growing tips: the old end from birth, the new end after take-off, both
    # fading once the septum forms and growth stops.
    q = np.maximum(np.abs(c.u) - c.a, 0.0) / c.r
    tip = q * q
    new_end = _px(rng.uniform(0.6, 1.0, n)) * _ramp(c.s, 0.3, 0.45)
    end_weight = np.where(c.u * c.old_end > 0, 1.0, new_end)
    tip_gain = 1.0 + _px(rng.uniform(0.9, 1.8, n)) * (1.0 - 0.6 * _ramp(c.s, 0.8, 0.9)) * tip * end_weight
    # The septum closes from the wall inwards between stage 0.8 and 0.9.
    progress = _ramp(c.s, 0.8, 0.9)
    closing = _sigmoid((np.abs(c.v) - c.r * (1.0 - progress)) / (0.7 * sc))
    septum = (1.2 * (c.s > 0.8)) * closing * _gauss(c.u, 0.8 * sc) * _sigmoid(-(c.d + 0.3 * sc) / (0.5 * sc))
    return wall * tip_gain + interior * (1.0 + 0.5 * tip) + septum


# ----------------------------------------------------------------------------------------
# Green channel, one function per pattern family
# ----------------------------------------------------------------------------------------


def _green_filaments(rng: np.random.Generator, c: _Cells, p: dict[str, float]) -> np.ndarray:
    """Microtubule bundles along the axis; in mitosis a short spindle bar replaces them,
    and once the septum forms a post-anaphase array sits at the division site."""
    n, k, sc = c.n, 4, c.scale
    half, r, s = c.col(c.half_len), c.col(c.r), c.col(c.s)
    septation = _ramp(c.s, 0.84, 0.88)
    mitosis = _ramp(c.s, p["spindle_stage"], p["spindle_stage"] + 0.06) * (1.0 - septation)
    interphase = 1.0 - mitosis - 0.5 * septation
    v0 = rng.uniform(-0.55, 0.55, (n, k)) * r
    slope = rng.normal(0.0, 0.03, (n, k))
    curv = rng.normal(0.0, p["curvature"], (n, k)) / half
    u0 = -rng.uniform(0.35, 0.92, (n, k)) * half
    u1 = rng.uniform(0.35, 0.92, (n, k)) * half
    amp = rng.uniform(0.4, 1.0, (n, k)) * (rng.uniform(size=(n, k)) < 0.85)
    lines = np.zeros_like(c.u)
    for j in range(k):  # a handful of filaments; each is a full-image expression
        centre = _px(v0[:, j]) + (_px(slope[:, j]) + _px(curv[:, j]) * c.u) * c.u
        window = _sigmoid((c.u - _px(u0[:, j])) / sc) * _sigmoid((_px(u1[:, j]) - c.u) / sc)
        lines += _px(amp[:, j]) * _gauss(c.v - centre, p["line_sigma"] * sc) * window
    # Alp14 is a plus-end tracker: brighter dots where the bundles end.
    ends_u = np.concatenate([u0, u1], 1)
    ends_v = np.concatenate([v0 + (slope + curv * u0) * u0, v0 + (slope + curv * u1) * u1], 1)
    dots = _spots(c, ends_u, ends_v, np.concatenate([amp, amp], 1) * p["end_dot"], 0.9)
    # Spindle: a bar along the axis that lengthens through mitosis, poles at its ends.
    spindle = half * (0.12 + 0.4 * np.clip((s - p["spindle_stage"]) / 0.2, 0.0, 1.0))
    bar = _gauss(c.v, 0.8 * sc) * _sigmoid((_px(spindle) - np.abs(c.u)) / (0.8 * sc))
    poles = _spots(c, np.concatenate([-spindle, spindle], 1), np.zeros((n, 2)), np.ones((n, 2)), 1.0)
    nucleus = _nucleus(rng, c)
    return (
        interphase * (p["amp"] * (lines + dots) + p["nucleus"] * nucleus)
        + mitosis * p["spindle"] * (bar + 0.6 * poles)
        + septation * 0.7 * p["spindle"] * _septum_band(c, 1.2)
        + p["cyto"] * c.inside
    )


def _green_patches(rng: np.random.Generator, c: _Cells, p: dict[str, float]) -> np.ndarray:
    """Actin patches: clusters at the growing tips, at the division site late."""
    n, k = c.n, int(p["n_spots"])
    half, r, s = c.col(c.half_len), c.col(c.r), c.col(c.s)
    ends = _end_choice(rng, c, k, p["bipolar_stage"], 0.1)
    tip_u, tip_v = _tip_positions(rng, c, ends, 0.35, 0.85, 1.2)
    # Tip patches also sit on the cortex just behind the cap.
    behind = rng.uniform(size=(n, k)) < 0.3
    tip_u = np.where(behind, tip_u - ends * rng.uniform(0.0, 0.35, (n, k)) * r, tip_u)
    mid_u = rng.normal(0.0, p["medial_spread"], (n, k)) * c.scale
    mid_v = rng.uniform(-0.8, 0.8, (n, k)) * r
    cortex_u = rng.uniform(-0.8, 0.8, (n, k)) * half
    cortex_v = np.where(rng.uniform(size=(n, k)) < 0.5, -1.0, 1.0) * rng.uniform(0.6, 0.85, (n, k)) * r
    p_med = 0.85 * _sigmoid((s - p["medial_stage"]) / 0.03)
    pick = rng.uniform(size=(n, k))
    is_mid = pick < p_med
    is_cortex = ~is_mid & (pick < p_med + (1.0 - p_med) * p["cortex"])
    u = np.where(is_mid, mid_u, np.where(is_cortex, cortex_u, tip_u))
    v = np.where(is_mid, mid_v, np.where(is_cortex, cortex_v, tip_v))
    amp = rng.uniform(0.4, 1.0, (n, k)) * np.where(is_cortex, 0.5, 1.0) * (rng.uniform(size=(n, k)) < 0.9)
    patches = _spots(c, u, v, amp * p["amp"], p["sigma"] * rng.uniform(0.85, 1.2, (n, k)))
    out = patches + p["cyto"] * c.inside
    if p["ring"] > 0.0:
        out += p["ring"] * _ramp(c.s, p["medial_stage"], p["medial_stage"] + 0.05) * _septum_band(c, 1.0)
    return out


def _green_diffuse(rng: np.random.Generator, c: _Cells, p: dict[str, float]) -> np.ndarray:
    """Cytoplasmic signal: uneven fill, nucleus dim (or bright), optional tips and septum."""
    n = c.n
    nucleus = _nucleus(rng, c)
    fill = p["cyto"] * _uneven(rng, c, p["uneven"]) * np.maximum(1.0 - p["nucleus_dim"] * nucleus, 0.0)
    out = fill * c.inside + p["nucleus_bright"] * nucleus
    if p["tips"] > 0.0:
        half, r, s, old = c.col(c.half_len), c.col(c.r), c.col(c.s), c.col(c.old_end)
        new_w = 0.3 + 0.7 * _sigmoid((s - 0.4) / 0.05)
        u = np.concatenate([old, -old], 1) * (half - 0.55 * r)
        amp = np.concatenate([np.ones_like(s), new_w], 1) * rng.uniform(0.6, 1.0, (n, 2)) * (1.0 - 0.7 * (s > 0.85))
        out += p["tips"] * _spots(c, u, np.zeros((n, 2)), amp, 2.2, 2.6) * c.inside
    if p["septum"] > 0.0:
        out += p["septum"] * _ramp(c.s, 0.8, 0.86) * _septum_band(c, 1.1)
    return out


def _green_spb_ring(rng: np.random.Generator, c: _Cells, p: dict[str, float]) -> np.ndarray:
    """Spindle pole body dots at the nucleus, separating in mitosis; a medial ring late."""
    n = c.n
    half, r, s = c.col(c.half_len), c.col(c.r), c.col(c.s)
    # One dot on the nuclear envelope in interphase; after duplication (from ~0.45) two,
    # driven apart along the axis by the spindle from separation_stage on.
    apart = np.clip((s - p["separation_stage"]) / 0.25, 0.0, 1.0) * 0.75 * half
    centre_u = rng.normal(0.0, 0.06, (n, 1)) * half
    side = np.where(rng.uniform(size=(n, 1)) < 0.5, -0.5, 0.5) * r * (1.0 - np.clip(apart / (0.3 * half), 0.0, 1.0))
    u = centre_u + np.concatenate([-apart, apart], 1)
    v = side + rng.normal(0.0, 0.6, (n, 2)) * c.scale
    amp = np.concatenate([np.ones_like(s), (s > 0.45).astype(np.float64)], 1) * rng.uniform(0.7, 1.0, (n, 2))
    dots = _spots(c, u, v, amp * p["amp"], p["sigma"])
    # The ring seen edge-on: a band across the cell, brighter at the wall (projection).
    edge = 0.5 + 0.5 * np.clip(c.v / c.r, -1.0, 1.0) ** 4
    ring = p["ring"] * _ramp(c.s, p["ring_stage"], p["ring_stage"] + 0.04) * _septum_band(c, 0.9) * edge
    return dots + ring + p["cyto"] * c.inside + p["nucleus"] * _nucleus(rng, c)


def _green_tips(rng: np.random.Generator, c: _Cells, p: dict[str, float]) -> np.ndarray:
    """Polarity spots clustered at the very tips; monopolar in young cells."""
    n, k = c.n, int(p["n_spots"])
    ends = _end_choice(rng, c, k, p["bipolar_stage"], p["new_end_early"])
    u, v = _tip_positions(rng, c, ends, p["rho_lo"], p["rho_hi"], p["phi_max"])
    amp = rng.uniform(0.5, 1.0, (n, k)) * (rng.uniform(size=(n, k)) < 0.9)
    tips = _spots(c, u, v, amp * p["amp"], p["sigma"] * rng.uniform(0.85, 1.2, (n, k)))
    # A few faint dots riding microtubule plus ends through the cytoplasm.
    mu = rng.uniform(-0.7, 0.7, (n, 3)) * c.col(c.half_len)
    mv = rng.uniform(-0.5, 0.5, (n, 3)) * c.col(c.r)
    mt = _spots(c, mu, mv, rng.uniform(0.0, 1.0, (n, 3)) * p["mt_dots"], 0.9)
    return tips + mt + p["cyto"] * c.inside


_FAMILIES: dict[str, Callable[[np.random.Generator, _Cells, dict[str, float]], np.ndarray]] = {
    "filaments": _green_filaments,
    "patches": _green_patches,
    "diffuse": _green_diffuse,
    "spb_ring": _green_spb_ring,
    "tips": _green_tips,
}


# ----------------------------------------------------------------------------------------
# Optics
# ----------------------------------------------------------------------------------------


def _gauss_kernel(sigma: float) -> list[float]:
    radius = max(1, math.ceil(3.0 * sigma))
    w = [math.exp(-0.5 * (i / sigma) ** 2) for i in range(-radius, radius + 1)]
    total = sum(w)
    return [x / total for x in w]


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur over the last two axes, with zero padding.

    Written as explicit shifted sums so that the order of additions (hence the exact
    float result) is fixed, unlike a BLAS-backed convolution.
    """
    k = _gauss_kernel(sigma)
    radius = len(k) // 2
    h, w = x.shape[-2:]
    lead = [(0, 0)] * (x.ndim - 2)
    xp = np.pad(x, [*lead, (0, 0), (radius, radius)])
    out = k[0] * xp[..., 0:w]
    for i in range(1, len(k)):
        out += k[i] * xp[..., i : i + w]
    xp = np.pad(out, [*lead, (radius, radius), (0, 0)])
    out = k[0] * xp[..., 0:h, :]
    for i in range(1, len(k)):
        out += k[i] * xp[..., i : i + h, :]
    return out


def _optics(rng: np.random.Generator, signal: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """From noiseless signal ``(n, C, H, W)`` to camera counts in [0, 255] (float).

    Blur (a per-cell mix of two focus levels), scale each channel's peak to a random
    brightness in ``[lo[c], hi[c]]`` (cells differ in expression; peaks stay clear of
    saturation), then add shot noise from a per-cell photon budget, read noise and a small
    background offset.  Both channels go through one call: fewer, larger array operations.
    """
    n, ch = signal.shape[:2]
    scale = signal.shape[-2] / 48.0
    sharp = _blur(signal, max(0.5, 0.9 * scale))
    soft = _blur(sharp, max(0.5, 1.0 * scale))  # about 1.5x the blur of ``sharp``
    focus = rng.uniform(0.0, 1.0, (n, 1, 1, 1))
    img = sharp + focus * (soft - sharp)
    peak = np.maximum(img.max(axis=(2, 3), keepdims=True), 1e-6)
    img *= rng.uniform(lo, hi, (n, ch)).reshape(n, ch, 1, 1) / peak
    photons = rng.uniform(60.0, 160.0, (n, ch, 1, 1))  # photons at full scale
    offset = rng.uniform(0.0, 0.015, (n, ch, 1, 1))
    read = rng.uniform(0.006, 0.015, (n, ch, 1, 1))
    noise = rng.standard_normal(signal.shape)
    img = img + offset + np.sqrt(np.maximum(img, 0.0) / photons + read * read) * noise
    return np.rint(np.clip(img, 0.0, 1.0) * 255.0)


# ----------------------------------------------------------------------------------------
# Public rendering API
# ----------------------------------------------------------------------------------------


def _render_chunk(spec: _Spec, rng: np.random.Generator, out: np.ndarray) -> dict[str, np.ndarray]:
    """Render ``len(out)`` cells into ``out`` (uint8, ``(n, 3, H, W)``); return their parameters."""
    n, _, height, width = out.shape
    cells = _sample_cells(rng, n, height, width)
    red = _red(rng, cells)
    green = np.maximum(_FAMILIES[spec.family](rng, cells, spec.params), 0.0) * cells.inside
    counts = _optics(rng, np.stack([red, green], 1), np.array([0.5, 0.4]), np.array([0.92, 0.92]))
    out[:, :2] = counts
    out[:, 2] = 0
    return _cell_info(cells)


def _chunk_size(height: int, width: int) -> int:
    return max(1, _CHUNK_PIXELS // (height * width))


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def render_cells_with_info(
    class_name: str, n: int, seed: int, height: int = 48, width: int = 80
) -> tuple[torch.Tensor, CellInfo]:
    """Like :func:`render_cells`, also returning each cell's hidden parameters (stage...)."""
    if not isinstance(class_name, str) or not class_name:
        raise DataError(f"class_name must be a non-empty string, got {class_name!r}")
    n = _check_count("n", n)
    seed = _check_seed(seed)
    height, width = _check_size(height, width)
    spec = _class_spec(class_name)
    crc = _name_crc(class_name)
    images = np.empty((n, 3, height, width), dtype=np.uint8)
    size = _chunk_size(height, width)
    starts = range(0, n, size)

    def work(chunk: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([seed, crc, chunk])
        return _render_chunk(spec, rng, images[starts[chunk] : starts[chunk] + size])

    threads = min(len(starts), _available_cpus(), _MAX_THREADS)
    if threads > 1:
        with ThreadPoolExecutor(threads, thread_name_prefix="biogans-synthetic") as pool:
            infos = list(pool.map(work, range(len(starts))))
    else:
        infos = [work(i) for i in range(len(starts))]
    info = CellInfo(**{k: torch.from_numpy(np.concatenate([d[k] for d in infos])) for k in infos[0]})
    return torch.from_numpy(images), info


def render_cells(class_name: str, n: int, seed: int, height: int = 48, width: int = 80) -> torch.Tensor:
    """Render ``n`` synthetic cells of one class as LIN-style RGB images.

    Returns a uint8 tensor ``(n, 3, height, width)``: R = cell wall, G = the class's
    protein, B = 0.  The output depends only on the arguments: bit-identical across runs
    and thread counts, and across machines up to float64 rounding (see the module
    docstring).  The class name selects the green pattern: the paper's 8 proteins have
    their own, any other name gets one chosen by a crc32 of the name.

    Raises:
        DataError: ``n < 1``, a negative seed, an empty class name, or a size below
            :data:`MIN_SIZE`.
    """
    return render_cells_with_info(class_name, n, seed, height, width)[0]


# ----------------------------------------------------------------------------------------
# Writing to disk
# ----------------------------------------------------------------------------------------


def _split_seed(seed: int, split: str) -> int:
    """Distinct seeds for train and test, so the two splits never share an image."""
    return 2 * seed + (1 if split == "test" else 0)


def _write_class(folder: Path, images: torch.Tensor) -> None:
    folder.mkdir(parents=True)
    digits = max(5, len(str(len(images) - 1)))  # names sort in index order for any n
    with warnings.catch_warnings():
        # torchvision 0.29 deprecates its image codecs (in favour of torchcodec) with a
        # warning per call; the codec itself is what this project uses for PNG I/O.
        warnings.filterwarnings(
            "ignore", message=".*image decoding and encoding.*deprecated", category=DeprecationWarning
        )
        for i, image in enumerate(images):
            # Level 1: PNG is lossless at any level, and level 6 (the default) makes
            # encoding, not rendering, the bottleneck.
            write_png(image, str(folder / f"cell_{i:0{digits}d}.png"), compression_level=1)


def _move_into_place(tmp: Path, dest: Path) -> bool:
    """Rename ``tmp`` to ``dest``; False (and ``tmp`` removed) if ``dest`` already exists."""
    try:
        os.rename(tmp, dest)
        return True
    except OSError:
        if dest.exists():
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        raise


def write_synthetic_lin(
    root: str | Path,
    classes: Sequence[str],
    n_train: int,
    n_test: int,
    seed: int,
    height: int = 48,
    width: int = 80,
    prefix: str = "LIN_Synthetic_size-48-80",
) -> tuple[Path, Path]:
    """Write a synthetic dataset in the LIN layout and return ``(train_dir, test_dir)``.

    Files are ``<root>/<prefix>_train/<Class>/cell_00000.png ...`` and the same under
    ``<prefix>_test``; train and test use different derived seeds.  Each split is built
    in a hidden temporary sibling folder and renamed into place, so a crash or a
    concurrent run never leaves a half-written split; if the destination appears in the
    meantime (another process won the race) theirs is kept and ours is discarded.

    Raises:
        DataError: bad arguments (named in the message), or a destination split folder
            that already exists when the call starts (it is never overwritten).
    """
    names = _check_classes(classes)
    n_train = _check_count("n_train", n_train)
    n_test = _check_count("n_test", n_test)
    seed = _check_seed(seed)
    height, width = _check_size(height, width)
    _check_folder_name(prefix, "prefix")
    root = Path(root)
    dests = {split: root / f"{prefix}_{split}" for split in ("train", "test")}
    for dest in dests.values():
        if dest.exists():
            raise DataError(f"{dest} already exists; remove it or choose another root or prefix")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create dataset folder {root}: {exc.strerror or exc}") from exc

    for split, count in (("train", n_train), ("test", n_test)):
        dest = dests[split]
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=root))
        try:
            for name in names:
                _write_class(tmp / name, render_cells(name, count, _split_seed(seed, split), height, width))
            if not _move_into_place(tmp, dest):
                logger.info("%s appeared while generating it (another process?); keeping the existing one", dest)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return dests["train"], dests["test"]


def _cache_key(params: dict[str, Any]) -> str:
    blob = json.dumps(params, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return "synthetic-" + hashlib.sha256(blob).hexdigest()[:16]


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _remove_stale_temporaries(cache_dir: Path, key: str, max_age_s: float = 6 * 3600) -> None:
    """Delete temporary folders of ``key`` left by killed runs (a live one is far younger)."""
    now = time.time()
    for path in cache_dir.glob(f".{key}.tmp-*"):
        try:
            if now - path.stat().st_mtime > max_age_s:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def ensure_synthetic(
    cache_dir: str | Path,
    classes: Sequence[str],
    n_train: int,
    n_test: int,
    seed: int,
    height: int = 48,
    width: int = 80,
) -> tuple[Path, Path]:
    """Return ``(train_dir, test_dir)`` of a cached synthetic dataset, generating it once.

    The dataset lives in ``cache_dir/<key>/`` where ``key`` hashes every parameter and
    :data:`GENERATOR_VERSION`, so changing anything (or upgrading the generator) gives a
    new folder instead of stale data.  The folder is built under a temporary name with
    its ``manifest.json`` written last and then renamed into place in one step: a folder
    under the final name is always complete, and concurrent callers agree on one copy.
    """
    names = _check_classes(classes)
    n_train = _check_count("n_train", n_train)
    n_test = _check_count("n_test", n_test)
    seed = _check_seed(seed)
    height, width = _check_size(height, width)
    params = {
        "generator_version": GENERATOR_VERSION,
        "classes": names,
        "n_train": n_train,
        "n_test": n_test,
        "seed": seed,
        "height": height,
        "width": width,
    }
    prefix = f"LIN_Synthetic_size-{height}-{width}"
    cache_dir = Path(cache_dir)
    folder = cache_dir / _cache_key(params)
    train_dir, test_dir = folder / f"{prefix}_train", folder / f"{prefix}_test"

    def complete() -> bool:
        return _read_manifest(folder) == {**params, "prefix": prefix} and train_dir.is_dir() and test_dir.is_dir()

    if complete():
        return train_dir, test_dir
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create cache folder {cache_dir}: {exc.strerror or exc}") from exc

    _remove_stale_temporaries(cache_dir, folder.name)
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=cache_dir))
    try:
        write_synthetic_lin(tmp, names, n_train, n_test, seed, height, width, prefix)
        (tmp / _MANIFEST).write_text(json.dumps({**params, "prefix": prefix}, indent=2) + "\n", encoding="utf-8")
        if folder.exists() and not complete():
            # Not made by this function (no valid manifest): a leftover, replace it.
            shutil.rmtree(folder)
        if _move_into_place(tmp, folder):
            n_images = len(names) * (n_train + n_test)
            logger.info(
                "generated synthetic LIN data (%d classes, %d images) in %.1f s at %s",
                len(names),
                n_images,
                time.perf_counter() - start,
                folder,
            )
        elif not complete():
            raise DataError(f"{folder} exists but is not a complete synthetic dataset; delete it and retry")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return train_dir, test_dir
