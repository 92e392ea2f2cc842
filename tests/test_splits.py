"""Tests for biogans.core.data.splits: the 10 evaluation splits as JSON index files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.io import write_png

from biogans.core.data.lin import LinFolder, read_lin_folder
from biogans.core.data.splits import (
    N_SPLITS,
    SPLIT_FORMAT,
    Split,
    folder_fingerprint,
    load_split,
    make_splits,
    write_splits,
)
from biogans.core.errors import ConfigError, DataError

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")


def _folder(counts: dict[str, int], root: Path = Path("/data/lin")) -> LinFolder:
    """An in-memory LinFolder (no files needed: splits only look at names and labels).

    File names are deliberately not created in sorted order, to check that the rule
    sorts them itself.
    """
    files: list[str] = []
    labels: list[int] = []
    for label, (name, n) in enumerate(counts.items()):
        names = [f"{name}/cell_{k:03d}.png" for k in range(n)]
        files.extend(reversed(names))
        labels.extend([label] * n)
    n_total = len(files)
    return LinFolder(
        root=root,
        images=torch.zeros((n_total, 2, 2, 2), dtype=torch.uint8),
        labels=torch.tensor(labels, dtype=torch.int64),
        class_names=list(counts),
        files=files,
    )


def _class_files(folder: LinFolder, name: str) -> list[str]:
    return sorted(folder.files[i] for i in folder.indices_of(name).tolist())


def test_halves_disjoint_cover_class_and_sizes() -> None:
    folder = _folder({"A": 7, "B": 10, "C": 1})
    records = make_splits(folder)
    assert len(records) == N_SPLITS == 10
    for i, record in enumerate(records):
        assert record["format"] == SPLIT_FORMAT
        assert record["split"] == i and record["seed"] == i + 1
        assert list(record["classes"]) == ["A", "B", "C"]
        for name, halves in record["classes"].items():
            test, train = set(halves["test"]), set(halves["train"])
            assert not test & train
            assert test | train == set(_class_files(folder, name))
            n = len(_class_files(folder, name))
            assert len(halves["test"]) == n // 2
            assert len(halves["train"]) == n - n // 2


def test_deterministic_and_splits_differ() -> None:
    folder = _folder({"A": 20, "B": 9})
    first, second = make_splits(folder), make_splits(folder)
    assert first == second
    tests = [tuple(r["classes"]["A"]["test"]) for r in first]
    assert len(set(tests)) == len(tests)  # every split is a different halving


def test_matches_documented_numpy_rule() -> None:
    folder = _folder({"A": 5, "B": 8})
    records = make_splits(folder, n_splits=3)
    for i, record in enumerate(records):
        for name in ("A", "B"):
            names = _class_files(folder, name)
            perm = np.random.default_rng(i + 1).permutation(len(names))
            k = len(names) // 2
            assert record["classes"][name]["test"] == sorted(names[j] for j in perm[:k])
            assert record["classes"][name]["train"] == sorted(names[j] for j in perm[k:])


def test_class_split_independent_of_other_classes() -> None:
    alone = make_splits(_folder({"B": 11}), n_splits=2)
    together = make_splits(_folder({"A": 4, "B": 11}), n_splits=2)
    for a, b in zip(alone, together, strict=True):
        assert a["classes"]["B"] == b["classes"]["B"]


def test_fingerprint() -> None:
    fp = folder_fingerprint(["A", "B"], ["A/x.png", "B/y.png"])
    assert len(fp) == 16 and all(c in "0123456789abcdef" for c in fp)
    assert fp == folder_fingerprint(["B", "A"], ["B/y.png", "A/x.png"])  # order-free
    assert fp != folder_fingerprint(["A", "B"], ["A/x.png", "B/z.png"])  # a rename shows
    assert fp != folder_fingerprint(["A", "B", "C"], ["A/x.png", "B/y.png"])


def test_bad_arguments() -> None:
    folder = _folder({"A": 3})
    with pytest.raises(ConfigError, match="n_splits"):
        make_splits(folder, n_splits=0)
    with pytest.raises(ConfigError, match="'../x'"):
        write_splits(folder, "/tmp", "../x")


def _write_lin(root: Path, counts: dict[str, int]) -> None:
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for k in range(n):
            image = torch.full((3, 4, 6), k, dtype=torch.uint8)
            write_png(image, str(root / name / f"img_{k:02d}.png"))


@pytest.fixture()
def real_folder(tmp_path: Path) -> LinFolder:
    root = tmp_path / "lin_test"
    _write_lin(root, {"Alp14": 7, "Arp3": 4, "Tea1": 5})
    return read_lin_folder(root, image_size=(4, 6))


def test_write_load_round_trip(real_folder: LinFolder, tmp_path: Path) -> None:
    out = tmp_path / "splits"
    paths = write_splits(real_folder, out, "test")
    assert paths == [out / "test" / f"split_{i}.json" for i in range(N_SPLITS)]
    assert sorted(p.name for p in (out / "test").iterdir()) == sorted(p.name for p in paths)  # no temp files
    records = make_splits(real_folder, set_name="test")
    for i, path in enumerate(paths):
        on_disk = json.loads(path.read_text())
        assert on_disk == records[i]
        assert set(on_disk) == {"format", "set", "split", "seed", "root", "fingerprint", "classes"}
        assert on_disk["set"] == "test"
        assert on_disk["root"] == str(real_folder.root)
        assert on_disk["fingerprint"] == folder_fingerprint(real_folder.class_names, real_folder.files)

        split = load_split(out, "test", i, folder=real_folder)
        assert isinstance(split, Split)
        assert (split.index, split.set_name, split.seed) == (i, "test", i + 1)
        assert split.class_names == ["Alp14", "Arp3", "Tea1"]
        assert split.files("Arp3", "test") == records[i]["classes"]["Arp3"]["test"]

        test_idx = split.indices(real_folder, "test")
        train_idx = split.indices(real_folder, "train")
        assert test_idx.dtype == torch.int64
        assert [real_folder.files[j] for j in test_idx.tolist()] == [
            f for name in split.class_names for f in records[i]["classes"][name]["test"]
        ]
        both = torch.cat([test_idx, train_idx]).sort().values
        assert torch.equal(both, torch.arange(len(real_folder.files)))

        only = split.indices(real_folder, "train", classes=["Tea1", "Alp14"])
        labels = real_folder.labels[only].tolist()
        assert labels == [2] * 3 + [0] * 4  # Tea1 (5 - 5 // 2) then Alp14 (7 - 7 // 2)


def test_rewrite_with_fewer_splits_removes_stale_files(real_folder: LinFolder, tmp_path: Path) -> None:
    write_splits(real_folder, tmp_path, "train")
    write_splits(real_folder, tmp_path, "train", n_splits=3)
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == [f"split_{i}.json" for i in range(3)]


def test_index_out_of_range(real_folder: LinFolder, tmp_path: Path) -> None:
    write_splits(real_folder, tmp_path, "test")
    for bad in (10, -1):
        with pytest.raises(DataError, match=f"split index {bad} is out of range") as info:
            load_split(tmp_path, "test", bad)
        assert "0..9" in str(info.value) and "10 split files" in str(info.value)
    (tmp_path / "test" / "split_4.json").unlink()
    with pytest.raises(DataError, match="split_4.json is missing"):
        load_split(tmp_path, "test", 4)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="biogans.prepare") as info:
        load_split(tmp_path / "nowhere", "train", 0)
    assert str(tmp_path / "nowhere" / "train") in str(info.value)
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match="no split files in"):
        load_split(tmp_path, "train", 0)


def test_fingerprint_mismatch(real_folder: LinFolder, tmp_path: Path) -> None:
    write_splits(real_folder, tmp_path / "splits", "test")
    other_root = tmp_path / "other"
    _write_lin(other_root, {"Alp14": 7, "Arp3": 4, "Tea1": 6})  # one more Tea1 image
    other = read_lin_folder(other_root, image_size=(4, 6))
    path = tmp_path / "splits" / "test" / "split_2.json"
    expected = folder_fingerprint(real_folder.class_names, real_folder.files)
    found = folder_fingerprint(other.class_names, other.files)
    with pytest.raises(DataError, match="made from another dataset") as info:
        load_split(tmp_path / "splits", "test", 2, folder=other)
    assert f"split file {path}" in str(info.value)
    assert f"fingerprint {expected} != {found}" in str(info.value)
    # indices() checks too, even for a split loaded without a folder.
    split = load_split(tmp_path / "splits", "test", 2)
    with pytest.raises(DataError, match="made from another dataset"):
        split.indices(other, "test", classes=["Alp14"])


def test_subset_folder_is_checked_per_class(real_folder: LinFolder, tmp_path: Path) -> None:
    write_splits(real_folder, tmp_path, "train")
    subset = read_lin_folder(real_folder.root, classes=["Tea1", "Alp14"], image_size=(4, 6))
    split = load_split(tmp_path, "train", 0, folder=subset)
    idx = split.indices(subset, "test")
    assert [subset.files[j] for j in idx.tolist()] == split.files("Tea1", "test") + split.files("Alp14", "test")

    changed = tmp_path / "changed"
    _write_lin(changed, {"Alp14": 7, "Tea1": 3})
    other = read_lin_folder(changed, image_size=(4, 6))
    with pytest.raises(DataError, match="class 'Tea1': fingerprint"):
        load_split(tmp_path, "train", 0, folder=other)


def test_absent_class_and_bad_half(real_folder: LinFolder, tmp_path: Path) -> None:
    write_splits(real_folder, tmp_path, "test")
    split = load_split(tmp_path, "test", 0)
    with pytest.raises(DataError, match="class 'Sid2' is not in split file") as info:
        split.indices(real_folder, "test", classes=["Sid2"])
    assert "Alp14, Arp3, Tea1" in str(info.value)
    with pytest.raises(DataError, match="'validation'"):
        split.indices(real_folder, "validation")
    with pytest.raises(DataError, match="class 'Sid2'"):
        split.files("Sid2", "train")


def test_malformed_and_foreign_files(real_folder: LinFolder, tmp_path: Path) -> None:
    paths = write_splits(real_folder, tmp_path, "test", n_splits=4)

    paths[0].write_text('{"format": "biogans-split-v1", "set": ')
    with pytest.raises(DataError, match="is not valid JSON") as info:
        load_split(tmp_path, "test", 0)
    assert str(paths[0]) in str(info.value)

    paths[1].write_text(json.dumps({"hello": "world"}))
    with pytest.raises(DataError, match="is not a biogans split file") as info:
        load_split(tmp_path, "test", 1)
    assert str(paths[1]) in str(info.value)

    record = json.loads(paths[2].read_text())
    record["classes"]["Arp3"]["test"].append("Arp3/extra.png")  # hand-edited
    paths[2].write_text(json.dumps(record))
    with pytest.raises(DataError, match="does not match its own file lists") as info:
        load_split(tmp_path, "test", 2)
    assert str(paths[2]) in str(info.value)

    record = json.loads(paths[3].read_text())
    record["classes"]["Arp3"] = ["Arp3/img_00.png"]
    paths[3].write_text(json.dumps(record))
    with pytest.raises(DataError, match="class 'Arp3' should map"):
        load_split(tmp_path, "test", 3)

    # A split file copied under another set's name is caught.
    write_splits(real_folder, tmp_path, "train", n_splits=1)
    (tmp_path / "train" / "split_0.json").replace(tmp_path / "test" / "split_0.json")
    with pytest.raises(DataError, match="expected split 0 of set 'test'"):
        load_split(tmp_path, "test", 0)
