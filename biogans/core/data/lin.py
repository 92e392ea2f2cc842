"""Read a folder laid out like the LIN dataset into memory.

Layout: ``<root>/<ClassName>/<cell>.png``, each file an RGB PNG of ``80 x 48`` pixels
(width x height) where R is the red channel (the cell-wall marker), G the green channel
(the tagged protein) and B is unused.  The whole set is small (about 27k images of
7.5 KiB each once decoded to two channels), so it is read once into one ``uint8``
tensor and every later view (joint, conditional, evaluation splits) indexes into it.

Rules, chosen so that the same folder always reads to the same tensor:

* Class folders are the non-hidden sub-directories of ``root`` sorted by name (plain
  code-point order), unless ``classes`` names them explicitly (then that order).
  Plain files and hidden entries (names starting with ``.``) at the top level are
  ignored, so a stray ``README`` or ``.DS_Store`` does not become a class.
* Inside a class folder the images are the non-hidden plain files whose name ends in
  ``.png`` (any case), sorted by name.  Other files and sub-directories are ignored;
  a class folder with no PNG at all is an error, because an empty class would silently
  break every per-class view later on.
* Only RGB PNGs are accepted (colour type 2).  Palette PNGs (colour type 3) are
  expanded to RGB through their palette, because that is a lossless re-encoding of an
  RGB image that some tools produce for images with few colours; any palette
  transparency is ignored.  Grayscale, grey+alpha and RGBA images are rejected: for
  them there is no unambiguous red and green channel.
* 16-bit RGB PNGs are accepted and converted to 8 bits with ``round(x / 257)`` (the
  exact inverse of the usual ``x * 257`` widening), with one warning per folder,
  because the rest of the project works on 8-bit values.

Every problem raises :class:`biogans.core.errors.DataError` naming the offending path and
what was expected; reading stops at the first bad file.  Nothing on disk is modified.
"""

from __future__ import annotations

import logging
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision.io import ImageReadMode, decode_png

from biogans.core.errors import ConfigError, DataError

__all__ = ["DEFAULT_IMAGE_SIZE", "LinFolder", "read_lin_folder"]

logger = logging.getLogger(__name__)

#: (height, width) of the LIN images.
DEFAULT_IMAGE_SIZE: tuple[int, int] = (48, 80)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour types (PNG spec, IHDR): what each one means, for error messages.
_COLOR_TYPE_NAMES = {
    0: "grayscale",
    2: "RGB",
    3: "palette",
    4: "grayscale+alpha",
    6: "RGBA",
}
_COLOR_RGB = 2
_COLOR_PALETTE = 3


@dataclass(eq=False)
class LinFolder:
    """A LIN-layout folder read into memory.

    ``images[i]`` (uint8, shape ``(2, H, W)``: channel 0 = red from the PNG's R,
    channel 1 = green from its G) is the file ``root / files[i]`` (a POSIX path
    ``"Class/file.png"``), of class ``class_names[labels[i]]`` (``labels`` is int64).
    Images are grouped by class, in ``class_names`` order, and sorted by file name
    inside a class.
    """

    root: Path
    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    files: list[str]

    def __len__(self) -> int:
        return len(self.files)

    def __repr__(self) -> str:
        # The default dataclass repr would print the whole image tensor.
        counts = ", ".join(f"{k}={v}" for k, v in self.class_counts().items())
        return (
            f"LinFolder(root={str(self.root)!r}, n={len(self.files)}, "
            f"image_size={tuple(self.images.shape[-2:])}, classes=[{counts}])"
        )

    def class_counts(self) -> dict[str, int]:
        """Number of images per class, in ``class_names`` order."""
        counts = torch.bincount(self.labels, minlength=len(self.class_names)).tolist()
        return dict(zip(self.class_names, counts, strict=True))

    def indices_of(self, class_name: str) -> torch.Tensor:
        """Indices (int64, ascending) into ``images`` of the images of one class."""
        try:
            label = self.class_names.index(class_name)
        except ValueError:
            raise DataError(
                f"class {class_name!r} is not in the dataset at {self.root} "
                f"(available classes: {', '.join(self.class_names) or 'none'})"
            ) from None
        return torch.nonzero(self.labels == label, as_tuple=True)[0].to(torch.int64)


def _is_hidden(path: Path) -> bool:
    return path.name.startswith(".")


def _list_dir(path: Path) -> list[Path]:
    """Entries of a directory, sorted by name, with OS errors turned into DataError."""
    try:
        return sorted(path.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise DataError(f"cannot list directory {path}: {exc.strerror or exc}") from exc


def _available_classes(root: Path) -> list[str]:
    return [p.name for p in _list_dir(root) if not _is_hidden(p) and p.is_dir()]


def _png_files(class_dir: Path) -> list[Path]:
    return [p for p in _list_dir(class_dir) if not _is_hidden(p) and p.suffix.lower() == ".png" and p.is_file()]


def _check_image_size(image_size: tuple[int, int]) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in image_size)
        ok = height > 0 and width > 0 and tuple(image_size) == (height, width)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(f"image_size must be (height, width), two positive integers; got {image_size!r}")
    return height, width


def _resolve_classes(root: Path, classes: Sequence[str] | None) -> list[str]:
    """The class folders to read, in reading order, after checking they exist."""
    available = _available_classes(root)
    if classes is None:
        if not available:
            stray = [p.name for p in _png_files(root)]
            hint = (
                f"; it holds {len(stray)} PNG files directly: is it a class folder rather than the dataset root?"
                if stray
                else ""
            )
            raise DataError(f"no class folders in {root} (expected {root}/<ClassName>/<cell>.png){hint}")
        return available
    if isinstance(classes, str):
        raise DataError(
            f"classes must be a list of class names, not the string {classes!r} "
            f"(write [{classes!r}] for a single class)"
        )
    wanted = list(classes)
    if not wanted:
        raise DataError(f"classes is empty: name at least one class folder of {root}")
    seen: set[str] = set()
    for name in wanted:
        if name in seen:
            raise DataError(f"class {name!r} is listed twice in classes={wanted!r}")
        seen.add(name)
    for name in wanted:
        if name not in available:
            raise DataError(f"class {name!r} not found in {root} (available classes: {', '.join(available) or 'none'})")
    return wanted


def _parse_ihdr(data: bytes, path: Path) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from a PNG's header, checked early.

    Reading the header ourselves lets us reject non-PNGs, wrong sizes and non-RGB
    images with a precise message before handing the bytes to libpng, whose own
    errors say little about what was expected.
    """
    if not data.startswith(_PNG_SIGNATURE):
        what = "an empty file" if not data else "no PNG signature"
        raise DataError(f"{path} is not a PNG file (found {what})")
    header = data[8:33]
    if len(header) < 25:
        raise DataError(f"{path} is a truncated PNG ({len(data)} bytes, header cut short)")
    length, chunk_type, width, height, bit_depth, color_type = struct.unpack(">I4sIIBB", header[:18])
    if chunk_type != b"IHDR" or length != 13:
        raise DataError(f"{path} is a corrupt PNG (the first chunk is not a valid IHDR)")
    return width, height, bit_depth, color_type


def _decode_one(path: Path, height: int, width: int) -> tuple[torch.Tensor, bool]:
    """Decode one file to a (3, H, W) uint8 tensor; also say whether it was 16-bit."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    found_w, found_h, bit_depth, color_type = _parse_ihdr(data, path)

    if color_type not in (_COLOR_RGB, _COLOR_PALETTE):
        kind = _COLOR_TYPE_NAMES.get(color_type, f"unknown colour type {color_type}")
        raise DataError(
            f"{path} is a {kind} PNG; an RGB PNG is required (R = red channel, G = green channel, B unused)"
        )
    if (found_h, found_w) != (height, width):
        raise DataError(f"{path} has the wrong size: expected {width}x{height} (WxH), found {found_w}x{found_h}")
    # Palette images are expanded through their palette by asking libpng for RGB.
    mode = ImageReadMode.RGB if color_type == _COLOR_PALETTE else ImageReadMode.UNCHANGED
    try:
        image = decode_png(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode)
    except RuntimeError as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path} is a truncated or corrupt PNG (decoder said: {detail})") from exc
    if tuple(image.shape) != (3, height, width):
        # Header and pixel data disagree: treat it as corruption rather than guess.
        raise DataError(f"{path} decoded to shape {tuple(image.shape)}, expected (3, {height}, {width})")
    # Trust the header's bit depth rather than the dtype: older torchvision releases
    # returned 16-bit samples as int32 instead of uint16.
    is_16bit = bit_depth == 16
    if is_16bit:
        # round(x / 257) == (x + 128) // 257 exactly, since 257 is odd (no ties).
        image = (image.to(torch.int32) + 128).div(257, rounding_mode="floor").to(torch.uint8)
    elif image.dtype != torch.uint8:
        raise DataError(f"{path} decoded to unsupported pixel type {image.dtype} (bit depth {bit_depth})")
    return image, is_16bit


def read_lin_folder(
    root: str | Path,
    classes: Sequence[str] | None = None,
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
) -> LinFolder:
    """Read every image of a LIN-layout folder (see the module docstring for the rules).

    Args:
        root: the dataset folder, holding one sub-folder per class.
        classes: class folders to read, in this order; ``None`` reads all of them,
            sorted by name.
        image_size: expected (height, width) of every image; anything else is an error
            rather than being resized, because a silent resize would hide a wrong folder.

    Returns:
        A :class:`LinFolder` with images ``uint8 (N, 2, H, W)`` (red, green).

    Raises:
        DataError: on any missing, unreadable or malformed input, naming it.
        ConfigError: if ``image_size`` is not two positive integers.
    """
    height, width = _check_image_size(image_size)
    root = Path(root)
    if not root.exists():
        raise DataError(f"dataset folder {root} does not exist")
    if not root.is_dir():
        raise DataError(f"dataset path {root} is not a folder (expected {root}/<ClassName>/<cell>.png)")

    class_names = _resolve_classes(root, classes)
    paths: list[Path] = []
    files: list[str] = []
    label_list: list[int] = []
    for label, name in enumerate(class_names):
        class_dir = root / name
        pngs = _png_files(class_dir)
        if not pngs:
            raise DataError(f"class folder {class_dir} holds no .png files")
        paths.extend(pngs)
        files.extend(f"{name}/{p.name}" for p in pngs)
        label_list.extend([label] * len(pngs))

    images = torch.empty((len(paths), 2, height, width), dtype=torch.uint8)
    n_16bit = 0
    with warnings.catch_warnings():
        # torchvision 0.29 deprecates its image codecs in favour of torchcodec and warns
        # on every call; one note per file would drown the user's log.  Only that exact
        # notice is silenced, and only while decoding.
        warnings.filterwarnings(
            "ignore",
            message="The image decoding and encoding capabilities of TorchVision are deprecated",
            category=DeprecationWarning,
        )
        for i, path in enumerate(paths):
            image, is_16bit = _decode_one(path, height, width)
            images[i] = image[:2]  # R -> channel 0, G -> channel 1, B dropped
            n_16bit += is_16bit
    if n_16bit:
        logger.warning(
            "%d of %d PNG files under %s are 16-bit; converted to 8-bit with round(x / 257)",
            n_16bit,
            len(paths),
            root,
        )

    return LinFolder(
        root=root,
        images=images,
        labels=torch.tensor(label_list, dtype=torch.int64),
        class_names=list(class_names),
        files=files,
    )
