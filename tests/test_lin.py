"""Tests for biogans.core.data.lin: reading LIN-layout folders of real PNG files."""

from __future__ import annotations

import hashlib
import logging
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.io import write_png

from biogans.core.data.lin import LinFolder, read_lin_folder
from biogans.core.errors import ConfigError, DataError

H, W = 48, 80

# The helpers write PNGs with torchvision, whose codecs warn about their deprecation.
pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")


def _rgb(seed: int, height: int = H, width: int = W) -> np.ndarray:
    """A random (H, W, 3) uint8 image with B = 0, as in the LIN data."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    image[..., 2] = 0
    return image


def _write_rgb(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_png(torch.from_numpy(image).permute(2, 0, 1).contiguous(), str(path))


def _write_png16_rgb(path: Path, image: np.ndarray) -> None:
    """Write a (H, W, 3) uint16 array as a 16-bit RGB PNG (PIL cannot write these)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    height, width, _ = image.shape
    rows = image.astype(">u2").reshape(height, width * 3)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter type 0 per row
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every entry under root with its content hash and mtime, to prove nothing changed."""
    out = {}
    for p in sorted(root.rglob("*")):
        key = p.relative_to(root).as_posix()
        if p.is_file():
            out[key] = (
                hashlib.sha256(p.read_bytes()).hexdigest(),
                p.stat().st_mtime_ns,
            )
        else:
            out[key] = ("dir", 0)
    return out


@pytest.fixture()
def good_root(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """Two classes (Beta: 3 images, Alpha: 2) plus entries the reader must ignore."""
    root = tmp_path / "lin"
    images = {
        "Alpha/a1.png": _rgb(1),
        "Alpha/a0.PNG": _rgb(2),  # upper-case suffix still counts
        "Beta/c.png": _rgb(3),
        "Beta/a.png": _rgb(4),
        "Beta/b.png": _rgb(5),
    }
    for rel, image in images.items():
        _write_rgb(root / rel, image)
    (root / "README.txt").write_text("not a class")
    (root / ".hidden_dir").mkdir()
    _write_rgb(root / ".hidden_dir" / "x.png", _rgb(6))
    (root / "Alpha" / "notes.txt").write_text("ignored")
    _write_rgb(root / "Alpha" / ".hidden.png", _rgb(7))
    (root / "Beta" / "sub").mkdir()
    _write_rgb(root / "Beta" / "sub" / "nested.png", _rgb(8))
    return root, images


def test_reads_good_folder(good_root: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, images = good_root
    folder = read_lin_folder(root)
    assert isinstance(folder, LinFolder)
    assert folder.root == root
    assert folder.class_names == ["Alpha", "Beta"]
    assert folder.files == [
        "Alpha/a0.PNG",
        "Alpha/a1.png",
        "Beta/a.png",
        "Beta/b.png",
        "Beta/c.png",
    ]
    assert folder.images.dtype == torch.uint8
    assert folder.images.shape == (5, 2, H, W)
    assert folder.labels.dtype == torch.int64
    assert folder.labels.tolist() == [0, 0, 1, 1, 1]
    for i, rel in enumerate(folder.files):
        expected = torch.from_numpy(images[rel]).permute(2, 0, 1)
        assert torch.equal(folder.images[i, 0], expected[0])  # R -> channel 0
        assert torch.equal(folder.images[i, 1], expected[1])  # G -> channel 1
    assert folder.class_counts() == {"Alpha": 2, "Beta": 3}
    assert folder.indices_of("Beta").tolist() == [2, 3, 4]
    assert folder.indices_of("Beta").dtype == torch.int64
    assert len(folder) == 5
    assert "n=5" in repr(folder)


def test_classes_subset_and_order(
    good_root: tuple[Path, dict[str, np.ndarray]],
) -> None:
    root, images = good_root
    folder = read_lin_folder(root, classes=["Beta", "Alpha"])
    assert folder.class_names == ["Beta", "Alpha"]
    assert folder.files == [
        "Beta/a.png",
        "Beta/b.png",
        "Beta/c.png",
        "Alpha/a0.PNG",
        "Alpha/a1.png",
    ]
    assert folder.labels.tolist() == [0, 0, 0, 1, 1]
    expected = torch.from_numpy(images["Alpha/a0.PNG"]).permute(2, 0, 1)[:2]
    assert torch.equal(folder.images[3], expected)

    only = read_lin_folder(root, classes=("Beta",))
    assert only.class_names == ["Beta"]
    assert only.class_counts() == {"Beta": 3}


def test_indices_of_unknown_class(
    good_root: tuple[Path, dict[str, np.ndarray]],
) -> None:
    folder = read_lin_folder(good_root[0])
    with pytest.raises(DataError, match="Gamma") as info:
        folder.indices_of("Gamma")
    assert "Alpha" in str(info.value) and "Beta" in str(info.value)


def test_custom_image_size(tmp_path: Path) -> None:
    _write_rgb(tmp_path / "C" / "x.png", _rgb(0, 4, 6))
    folder = read_lin_folder(tmp_path, image_size=(4, 6))
    assert folder.images.shape == (1, 2, 4, 6)
    with pytest.raises(ConfigError, match="image_size"):
        read_lin_folder(tmp_path, image_size=(4, 0))


def test_missing_root(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(DataError, match="does not exist") as info:
        read_lin_folder(missing)
    assert str(missing) in str(info.value)


def test_root_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "file.png"
    _write_rgb(path, _rgb(0))
    with pytest.raises(DataError, match="not a folder") as info:
        read_lin_folder(path)
    assert str(path) in str(info.value)


def test_no_class_folders(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("")
    (tmp_path / ".git").mkdir()
    with pytest.raises(DataError, match="no class folders") as info:
        read_lin_folder(tmp_path)
    assert str(tmp_path) in str(info.value)
    # PNGs directly in the root: the user probably pointed at a class folder.
    _write_rgb(tmp_path / "cell.png", _rgb(0))
    with pytest.raises(DataError, match="class folder rather than the dataset root"):
        read_lin_folder(tmp_path)


def test_empty_class_folder(good_root: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, _ = good_root
    empty = root / "Empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("")
    with pytest.raises(DataError, match="no .png files") as info:
        read_lin_folder(root)
    assert str(empty) in str(info.value)


def test_class_not_found_lists_available(
    good_root: tuple[Path, dict[str, np.ndarray]],
) -> None:
    root, _ = good_root
    with pytest.raises(DataError, match="'Gamma' not found") as info:
        read_lin_folder(root, classes=["Alpha", "Gamma"])
    assert "Alpha, Beta" in str(info.value)
    # Hidden folders and plain files are not classes even when asked for.
    with pytest.raises(DataError, match="README.txt"):
        read_lin_folder(root, classes=["README.txt"])


def test_bad_classes_argument(good_root: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, _ = good_root
    with pytest.raises(DataError, match="'Alpha' is listed twice"):
        read_lin_folder(root, classes=["Alpha", "Beta", "Alpha"])
    with pytest.raises(DataError, match="not the string 'Alpha'"):
        read_lin_folder(root, classes="Alpha")
    with pytest.raises(DataError, match="classes is empty"):
        read_lin_folder(root, classes=[])


def test_truncated_png(good_root: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, _ = good_root
    bad = root / "Beta" / "b.png"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated or corrupt") as info:
        read_lin_folder(root)
    assert str(bad) in str(info.value)
    assert info.value.__cause__ is not None  # chained to the decoder's error
    # Cut inside the header.
    bad.write_bytes(data[:20])
    with pytest.raises(DataError, match="truncated") as info:
        read_lin_folder(root)
    assert str(bad) in str(info.value)


@pytest.mark.parametrize(
    ("content", "found"),
    [(b"hello, this is text", "no PNG signature"), (b"", "an empty file")],
)
def test_not_a_png(good_root: tuple[Path, dict[str, np.ndarray]], content: bytes, found: str) -> None:
    root, _ = good_root
    bad = root / "Alpha" / "a1.png"
    bad.write_bytes(content)
    with pytest.raises(DataError, match="is not a PNG file") as info:
        read_lin_folder(root)
    assert str(bad) in str(info.value) and found in str(info.value)


def test_jpeg_named_png(tmp_path: Path) -> None:
    bad = tmp_path / "C" / "x.png"
    bad.parent.mkdir()
    Image.fromarray(_rgb(0)).save(bad, format="JPEG")
    with pytest.raises(DataError, match="is not a PNG file") as info:
        read_lin_folder(tmp_path)
    assert str(bad) in str(info.value)


def test_wrong_size(good_root: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, _ = good_root
    bad = root / "Beta" / "c.png"
    _write_rgb(bad, _rgb(0, 40, 80))
    with pytest.raises(DataError, match=r"expected 80x48 \(WxH\), found 80x40") as info:
        read_lin_folder(root)
    assert str(bad) in str(info.value)


@pytest.mark.parametrize(("mode", "kind"), [("L", "grayscale"), ("LA", "grayscale+alpha"), ("RGBA", "RGBA")])
def test_non_rgb_rejected(tmp_path: Path, mode: str, kind: str) -> None:
    bad = tmp_path / "C" / "x.png"
    bad.parent.mkdir()
    Image.fromarray(_rgb(0)).convert(mode).save(bad)
    with pytest.raises(DataError, match="RGB PNG is required") as info:
        read_lin_folder(tmp_path)
    assert str(bad) in str(info.value) and f"is a {kind} PNG" in str(info.value)


def test_palette_png_is_expanded_to_rgb(tmp_path: Path) -> None:
    path = tmp_path / "C" / "x.png"
    path.parent.mkdir()
    palette_image = Image.fromarray(_rgb(3)).quantize(colors=16)
    palette_image.save(path)
    assert Image.open(path).mode == "P"
    expected = np.array(palette_image.convert("RGB"))
    folder = read_lin_folder(tmp_path)
    assert torch.equal(folder.images[0, 0], torch.from_numpy(expected[..., 0]))
    assert torch.equal(folder.images[0, 1], torch.from_numpy(expected[..., 1]))


def test_16bit_png_converted_with_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(0)
    first = rng.integers(0, 65536, size=(H, W, 3)).astype(np.uint16)
    # Rounding edges of round(x / 257): 128 -> 0 but 129 -> 1, 1927 -> 7 but 1928 -> 8, ...
    edge = [0, 1, 128, 129, 257, 1927, 1928, 65279, 65406, 65407, 65535]
    first[0, : len(edge), 0] = edge
    second = rng.integers(0, 65536, size=(H, W, 3)).astype(np.uint16)
    _write_png16_rgb(tmp_path / "C" / "a.png", first)
    _write_png16_rgb(tmp_path / "C" / "b.png", second)
    _write_rgb(tmp_path / "C" / "c.png", _rgb(9))  # 8-bit and 16-bit may mix

    with caplog.at_level(logging.WARNING, logger="biogans.core.data.lin"):
        folder = read_lin_folder(tmp_path)

    for i, image in enumerate([first, second]):
        expected = np.round(image.astype(np.float64) / 257).astype(np.uint8)
        assert torch.equal(
            folder.images[i],
            torch.from_numpy(expected).permute(2, 0, 1)[:2].contiguous(),
        )
    assert folder.images[0, 0, 0, : len(edge)].tolist() == [
        0,
        0,
        0,
        1,
        1,
        7,
        8,
        254,
        254,
        255,
        255,
    ]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "16-bit" in warnings[0].getMessage() and "2 of 3" in warnings[0].getMessage()


def test_reading_does_not_modify_folder(
    good_root: tuple[Path, dict[str, np.ndarray]],
) -> None:
    root, _ = good_root
    before = _snapshot(root)
    read_lin_folder(root)
    read_lin_folder(root, classes=["Beta"])
    assert _snapshot(root) == before
    (root / "Alpha" / "a1.png").write_bytes(b"junk")
    before = _snapshot(root)
    with pytest.raises(DataError):
        read_lin_folder(root)
    assert _snapshot(root) == before
