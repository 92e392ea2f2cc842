"""Cell-cycle movies (the paper's Figure 7): slerp through three latent vectors, render every class.

A trained green-on-red generator keeps the cell's shape (red) in its red noise, so a smooth
path through latent space from a small cell (start) over a growing one (middle) to a
dividing one (end) plays the cell cycle, and every class's green shows how its protein
moves meanwhile.  The path is spherical: a Gaussian latent vector of dimension ``nz``
lies near the sphere of radius ``sqrt(nz)``, and a straight line between two of them cuts
through the low-norm inside the generator never saw in training; slerp stays on the shell.

The three vectors come from the same fixed batch (:func:`biogans.core.samples.fixed_noise`)
the trainer draws its sample grids from, so ``points=[i, j, k]`` picks the cells a user
saw at positions ``i``, ``j`` and ``k`` of a training sample grid made with the same seed.

Outputs (all written atomically):

* an animated GIF: per frame, the red channel alone (shown in red), then one column per
  class (red + that class's green), upscaled bicubically, looping;
* a PNG strip of a few evenly spaced frames (rows) with the same columns;
* an OME-TIFF stack ``(T, C, Y, X)``, ``C = 1 + n_classes`` (red, then each class's
  green), ``uint8``, with channel names and colours that Fiji (Bio-Formats) and napari
  (tifffile-based readers) show;
* ``interpolation.json`` recording what was rendered and from what.

Every generator kind renders the same way: star-shaped and independent generators give
``(n_classes, B, 2, H, W)``; a multi-channel one gives ``(B, n_classes + 1, H, W)`` and is
viewed as star-shaped (:func:`biogans.core.models.views.star_view`); a joint one (dcgan, sep)
gives ``(B, 2, H, W)``, a single "class".  An independent generator has one red per
class; its GIF and strip show each class with its own red, while the "red alone" column
and the TIFF's single red channel are class 0's red.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from biogans.config import InterpolateConfig, check_points
from biogans.core.checkpoint import load_generator
from biogans.core.errors import ConfigError
from biogans.core.files import atomic_write
from biogans.core.models.views import star_view
from biogans.core.records import InterpolationRecord
from biogans.core.samples import fixed_noise
from biogans.tasks.training import resolve_device

__all__ = [
    "CAPTION_HEIGHT",
    "channel_names",
    "choose_points",
    "column_names",
    "frames_to_rgb_panels",
    "latent_path",
    "render_frames",
    "render_images",
    "run",
    "slerp",
    "strip_indices",
    "summary_line",
    "write_gif",
    "write_strip",
    "write_tiff",
]

#: height in pixels of the row of channel names above GIF frames and the strip
CAPTION_HEIGHT = 14
#: the name of the red channel in captions and in the TIFF
RED_NAME = "red"
#: OME colours (signed 32-bit RGBA): red for the red channel, green for every class
OME_RED = -16776961  # 0xFF0000FF
OME_GREEN = 16711935  # 0x00FF00FF
#: the fixed noise batch comes in groups sharing red noise (as in the trainer's sample grids)
NOISE_GROUP = 8

OUTPUT_NAMES = {
    "gif": "cell_cycle.gif",
    "strip": "cell_cycle_strip.png",
    "tiff": "cell_cycle.ome.tif",
    "json": "interpolation.json",
}


# --------------------------------------------------------------------------- latent paths


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Spherical interpolation from ``a`` (t = 0) to ``b`` (t = 1); ``(len(t), *a.shape)``.

    Moves along the great circle through ``a`` and ``b`` with the norm blended between
    theirs, so unit vectors stay unit vectors and the angle to ``a`` grows linearly in
    ``t``.  When ``a`` and ``b`` are (nearly) parallel or antiparallel the great circle is
    not defined (``sin`` of the angle is ~0), and linear interpolation is used instead;
    for parallel vectors it is the same path.  Computed in float64 so that the endpoints
    come out exactly ``a`` and ``b``.
    """
    if a.shape != b.shape:
        raise ValueError(f"slerp needs vectors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if t.dim() != 1:
        raise ValueError(f"slerp needs a 1-D tensor of times, got shape {tuple(t.shape)}")
    a64, b64 = a.detach().double().flatten(), b.detach().double().flatten()
    t64 = t.detach().double().to(a64.device)[:, None]
    norms = a64.norm() * b64.norm()
    cos = (a64 @ b64 / norms).clamp(-1.0, 1.0) if norms > 0 else torch.ones((), dtype=torch.float64)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    if sin.abs() < eps:
        out = (1.0 - t64) * a64 + t64 * b64
    else:
        out = (torch.sin((1.0 - t64) * omega) / sin) * a64 + (torch.sin(t64 * omega) / sin) * b64
    return out.to(a.dtype).reshape(len(t), *a.shape)


def latent_path(start: torch.Tensor, middle: torch.Tensor, end: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` slerp frames start -> middle, then ``steps`` middle -> end, middle once.

    Returns ``(2 * steps - 1, *start.shape)``; frame 0 is ``start``, frame ``steps - 1`` is
    ``middle`` and the last frame is ``end``, exactly.
    """
    if steps < 2:
        raise ConfigError(f"steps must be >= 2 (a leg needs its two ends), got {steps}")
    t = torch.linspace(0.0, 1.0, steps, dtype=torch.float64)
    first = slerp(start, middle, t)
    second = slerp(middle, end, t)
    return torch.cat([first, second[1:]], dim=0)


def choose_points(batch_size: int, seed: int, group: int = NOISE_GROUP) -> list[int]:
    """Three distinct indices into the fixed batch, picked with ``seed``.

    With at least three groups of ``group`` vectors each index comes from another group,
    so that for a separable generator (where a group shares its red noise, i.e. its cell
    shape) the cell actually changes along the path.
    """
    if batch_size < 3:
        raise ConfigError(f"batch_size must be >= 3 to hold start, middle and end, got {batch_size}")
    rng = torch.Generator().manual_seed(int(seed))
    n_groups = batch_size // group
    if n_groups >= 3:
        groups = torch.randperm(n_groups, generator=rng)[:3]
        members = torch.randint(0, group, (3,), generator=rng)
        return [int(g) * group + int(m) for g, m in zip(groups, members, strict=True)]
    return [int(i) for i in torch.randperm(batch_size, generator=rng)[:3]]


# --------------------------------------------------------------------------- rendering


def render_images(generator: nn.Module, z: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """Every class's two-channel image for every latent vector: ``(T, n, 2, H, W)`` in [0, 1].

    Runs in eval mode (BatchNorm with its running statistics, so a frame does not depend
    on the others in its batch) without gradients, ``chunk`` frames per forward pass; the
    generator's mode is restored afterwards.
    """
    if z.dim() == 4:
        z = z.flatten(1)
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    parts = []
    try:
        with torch.no_grad():
            for start in range(0, z.shape[0], max(1, chunk)):
                out = generator(z[start : start + chunk].to(device))
                if out.dim() == 4:  # multi-channel (B, n + 1, H, W) or joint (B, 2, H, W)
                    out = star_view(out)
                if out.dim() != 5 or out.shape[2] != 2:
                    raise ValueError(f"unexpected generator output of shape {tuple(out.shape)}")
                parts.append(((out.float().clamp(-1, 1) + 1) / 2).transpose(0, 1).cpu())
    finally:
        generator.train(was_training)
    return torch.cat(parts, dim=0)


def images_to_channels(images: torch.Tensor) -> torch.Tensor:
    """``(T, n, 2, H, W)`` per-class images as ``(T, 1 + n, H, W)``: class 0's red, then each green."""
    return torch.cat([images[:, 0, :1], images[:, :, 1]], dim=1)


def render_frames(generator: nn.Module, z: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """The movie's channels ``(T, 1 + n_classes, H, W)`` in [0, 1]: red, then each class's green.

    For an independent generator (one red per class) the red is class 0's.
    """
    return images_to_channels(render_images(generator, z, chunk))


def channel_names(class_names: Sequence[str]) -> list[str]:
    """Names of the movie's channels: red, then the classes."""
    return [RED_NAME, *class_names]


def column_names(n_columns: int, spec: Mapping[str, Any]) -> list[str]:
    """Class names for the ``n_columns`` green columns a generator renders.

    The names are the generator's (``generator.spec``; a 2017 file gets the paper's six
    when the count fits, see :func:`biogans.core.models.legacy.legacy_spec`); a joint model
    (trained on all of its classes merged) has one green column, named after its class if
    it had only one, else "green".
    """
    names = [str(n) for n in spec.get("class_names") or []]
    if n_columns == 1:
        return [names[0]] if len(names) == 1 else ["green"]
    if len(names) == n_columns:
        return names
    return [f"class{i}" for i in range(n_columns)]


# --------------------------------------------------------------------------- pictures


def frames_to_rgb_panels(frames: torch.Tensor, scale: int = 2) -> torch.Tensor:
    """Side-by-side RGB panels ``(T, 3, scale * H, scale * W * (1 + n))`` in [0, 1].

    ``frames`` is either the channel stack ``(T, 1 + n, H, W)`` (one red for all classes)
    or per-class images ``(T, n, 2, H, W)`` (each class with its own red, for independent
    generators).  Column 0 is red alone in R; column ``c + 1`` is class ``c``'s red in R and
    its green in G.  Each image is upscaled on its own (bicubic, clamped: bicubic
    overshoots), so no column bleeds into its neighbour.
    """
    if scale < 1:
        raise ConfigError(f"scale must be >= 1, got {scale}")
    if frames.dim() == 4:
        red = frames[:, :1]
        n = frames.shape[1] - 1
        images = torch.stack([red.expand(-1, n, -1, -1), frames[:, 1:]], dim=2)
    elif frames.dim() == 5 and frames.shape[2] == 2:
        images = frames
    else:
        raise ValueError(f"expected (T, 1 + n, H, W) or (T, n, 2, H, W) frames, got {tuple(frames.shape)}")
    t, n, _, h, w = images.shape
    red_alone = torch.stack([images[:, 0, 0], torch.zeros_like(images[:, 0, 0])], dim=1)[:, None]
    columns = torch.cat([red_alone, images], dim=1).float()  # (T, 1 + n, 2, H, W)
    rgb = torch.cat([columns, torch.zeros_like(columns[:, :, :1])], dim=2).reshape(t * (n + 1), 3, h, w)
    if scale != 1:
        rgb = F.interpolate(rgb, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)
    rgb = rgb.reshape(t, n + 1, 3, h * scale, w * scale)
    return rgb.permute(0, 2, 3, 1, 4).reshape(t, 3, h * scale, (n + 1) * w * scale)


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


def _caption_row(names: Sequence[str], column_width: int) -> Image.Image:
    """A black row with each name centred over its column (shortened to fit)."""
    row = Image.new("RGB", (column_width * len(names), CAPTION_HEIGHT), (0, 0, 0))
    draw = ImageDraw.Draw(row)
    font = ImageFont.load_default()
    for i, name in enumerate(names):
        text = str(name)
        while len(text) > 1 and draw.textlength(text, font=font) > column_width - 4:
            text = text[:-2] + "…"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        x = i * column_width + (column_width - (right - left)) / 2 - left
        y = (CAPTION_HEIGHT - (bottom - top)) / 2 - top
        draw.text((x, y), text, fill=(255, 255, 255), font=font)
    return row


def _with_caption(picture: Image.Image, names: Sequence[str] | None) -> Image.Image:
    if not names:
        return picture
    out = Image.new("RGB", (picture.width, picture.height + CAPTION_HEIGHT), (0, 0, 0))
    out.paste(_caption_row(names, picture.width // len(names)), (0, 0))
    out.paste(picture, (0, CAPTION_HEIGHT))
    return out


def _save_with(path: str | Path, save: Callable[[BinaryIO], None]) -> None:
    """Render into memory first, so a failing encoder never leaves a temporary file behind."""
    buffer = io.BytesIO()
    save(buffer)
    data = buffer.getvalue()
    atomic_write(path, lambda f: f.write(data))


def write_gif(
    panels: torch.Tensor, path: str | Path, duration_s: float = 5.0, names: Sequence[str] | None = None
) -> int:
    """Write ``(T, 3, H, W)`` panels as a looping GIF lasting about ``duration_s``; returns ms per frame.

    GIF delays are whole centiseconds, so the per-frame delay is rounded to one (at least
    2 cs: browsers slow anything faster down to 10 cs) and the loop lasts
    ``T * delay``.  ``names`` adds a caption row (one name per column).
    """
    if duration_s <= 0:
        raise ConfigError(f"duration_s must be > 0, got {duration_s}")
    centis = max(2, round(duration_s * 100 / panels.shape[0]))
    pictures = [_with_caption(Image.fromarray(a.transpose(1, 2, 0)), names) for a in _to_uint8(panels)]
    _save_with(
        path,
        lambda f: pictures[0].save(
            f, format="GIF", save_all=True, append_images=pictures[1:], duration=centis * 10, loop=0
        ),
    )
    return centis * 10


def strip_indices(n_frames: int, count: int) -> list[int]:
    """``count`` evenly spaced frame indices from the first to the last (at most every frame)."""
    if count < 1:
        raise ConfigError(f"strip_frames must be >= 1, got {count}")
    count = min(count, n_frames)
    if count == 1:
        return [0]
    return sorted({round(i * (n_frames - 1) / (count - 1)) for i in range(count)})


def write_strip(
    panels: torch.Tensor, path: str | Path, indices: Sequence[int], names: Sequence[str] | None = None
) -> None:
    """Write the panels of frames ``indices`` stacked top to bottom as one PNG."""
    rows = _to_uint8(panels[list(indices)])
    picture = Image.fromarray(np.concatenate([a.transpose(1, 2, 0) for a in rows], axis=0))
    picture = _with_caption(picture, names)
    _save_with(path, lambda f: picture.save(f, format="PNG"))


def write_tiff(frames: torch.Tensor, path: str | Path, names: Sequence[str], title: str = "cell cycle") -> None:
    """Write ``(T, C, H, W)`` channels in [0, 1] as an OME-TIFF, ``uint8``, axes ``TCYX``.

    OME-TIFF because its XML header names every channel in a standard way that Fiji
    (Bio-Formats) and the tifffile-based readers (napari) show; the channel colours are
    set too (red for the red channel, green for the classes).  8 bits, like the source
    data (the LIN images are 8-bit PNGs).
    """
    import tifffile

    if frames.dim() != 4 or frames.shape[1] != len(names):
        raise ValueError(
            f"expected (T, {len(names)}, H, W) frames for channels {list(names)}, got {tuple(frames.shape)}"
        )
    data = _to_uint8(frames)
    colours = [OME_RED if i == 0 else OME_GREEN for i in range(len(names))]
    metadata = {"axes": "TCYX", "Name": title, "Channel": {"Name": [str(n) for n in names], "Color": colours}}
    _save_with(path, lambda f: tifffile.imwrite(f, data, ome=True, photometric="minisblack", metadata=metadata))


# --------------------------------------------------------------------------- the whole movie


def run(cfg: InterpolateConfig, run_dir: Path) -> InterpolationRecord:
    """The task (``python -m biogans.interpolate``): render the movie of ``cfg.generator`` into ``run_dir``;
    returns its ``interpolation.json`` record (the task contract writes it, with its status and config).

    The settings were checked at start-up (:func:`biogans.config.check_config`), before the
    checkpoint is read.
    """
    generator_path, model = str(cfg.generator), cfg.model.name if cfg.model is not None else None
    seed, batch_size, points, steps = cfg.seed, cfg.batch_size, cfg.points, cfg.steps
    scale, duration_s, caption = cfg.scale, cfg.duration_s, cfg.caption
    chosen = choose_points(batch_size, seed) if points is None else check_points(points, batch_size)
    n_frames = 2 * steps - 1
    strip = strip_indices(n_frames, cfg.strip_frames)

    generator = load_generator(generator_path, model=model, device=resolve_device(cfg.device))
    spec = generator.spec
    batch = fixed_noise(batch_size, generator.nz, getattr(generator, "red_nz", 0), seed)
    z = latent_path(batch[chosen[0]], batch[chosen[1]], batch[chosen[2]], steps)
    images = render_images(generator, z)
    classes = column_names(images.shape[1], spec)
    names = channel_names(classes)
    frames = images_to_channels(images)
    panels = frames_to_rgb_panels(images, scale)

    out = Path(run_dir)
    files = {key: out / name for key, name in OUTPUT_NAMES.items()}
    frame_ms = write_gif(panels, files["gif"], duration_s, names if caption else None)
    write_strip(panels, files["strip"], strip, names if caption else None)
    write_tiff(frames, files["tiff"], names)
    kind = spec.get("kind")
    record = InterpolationRecord(
        status="done",
        generator=str(Path(generator_path).resolve()),
        model=spec.get("name", model),
        kind=kind,
        seed=int(seed),
        batch_size=int(batch_size),
        points=list(chosen),
        points_from="config" if points is not None else "seed",
        steps=int(steps),
        frames=n_frames,
        classes=list(classes),
        channels=list(names),
        red_from=f"class {classes[0]!r} (each class has its own red)" if kind == "independent" else "shared",
        image_size=list(frames.shape[-2:]),
        scale=int(scale),
        caption_height=CAPTION_HEIGHT if caption else 0,
        frame_ms=frame_ms,
        gif_duration_s=frame_ms * n_frames / 1000,
        strip_frames=list(strip),
        tiff={"format": "OME-TIFF", "axes": "TCYX", "dtype": "uint8"},
        files={key: path.name for key, path in files.items()},
    )
    return record


def summary_line(record: InterpolationRecord, out_dir: str | Path) -> str:
    """The one line the entry point prints."""
    assert record.files is not None
    return (
        f"biogans.interpolate: {record.frames} frames x {len(record.channels)} channels "
        f"({', '.join(record.channels)}) from points {record.points} (seed {record.seed}) "
        f"-> {out_dir}/{{{', '.join(record.files.values())}}}"
    )
