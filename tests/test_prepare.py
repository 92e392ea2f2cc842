"""``python -m biogans.prepare``: the paper's 10 evaluation splits of each set as index files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TINY_DATA, run_in_process, typed

from biogans.core.data.splits import load_split
from biogans.core.errors import ConfigError
from biogans.tasks.common import check_generator_classes, read_set, splits_dir


def test_prepare_writes_ten_splits_of_both_sets(prepared_splits):
    cfg = typed("train", TINY_DATA)
    assert prepared_splits == splits_dir(cfg.dataset)  # where every tool will look
    for which in ("train", "test"):
        assert sorted(p.name for p in (prepared_splits / which).iterdir()) == [f"split_{i}.json" for i in range(10)]
        split = json.loads((prepared_splits / which / "split_0.json").read_text())
        assert len(split["classes"]) == 8  # every class folder is split, not only dataset.classes


def test_split_halves_follow_the_paper_rule(prepared_splits):
    cfg = typed("train", TINY_DATA)
    folder = read_set(cfg.dataset, "test", classes=["Alp14", "Arp3", "Cki2", "Mkh1", "Sid2", "Tea1", "Fim1", "Tea4"])
    split = load_split(prepared_splits, "test", 3, folder)
    files = sorted(f for f in folder.files if f.startswith("Tea1/"))
    order = np.random.default_rng(3 + 1).permutation(len(files))
    expected_test = sorted(files[i] for i in order[: len(files) // 2])
    assert split.files("Tea1", "test") == expected_test
    assert sorted(split.files("Tea1", "train")) == sorted(set(files) - set(expected_test))
    # the six training classes index into a folder read with only those classes
    six = read_set(cfg.dataset, "test")
    idx = split.indices(six, "test", ["Tea1"])
    assert sorted(six.files[i] for i in idx) == expected_test


def test_prepare_summary_and_json(tmp_path):
    # 3 splits in a folder of its own: the session's 10 (prepared_splits, the default place) stay
    proc = run_in_process(
        "prepare", *TINY_DATA, "n_splits=3", f"dataset.splits_dir={tmp_path / 'splits'}", run_dir=tmp_path
    )
    summary = json.loads((tmp_path / "prepare.json").read_text())
    assert summary["n_splits"] == 3 and set(summary["sets"]) == {"train", "test"}
    assert summary["sets"]["train"]["classes"]["Tea4"] == 48 and summary["sets"]["test"]["classes"]["Tea4"] == 24
    assert "biogans.prepare: 3 splits" in proc.stdout


def test_prepare_lin_without_test_folder_and_bad_classes(tmp_path):
    cfg = typed("train", TINY_DATA)
    train_root = read_set(cfg.dataset, "train").root
    proc = run_in_process("prepare", "dataset=lin", f"dataset.root={train_root}", f"dataset.cache_dir={tmp_path / 'c'}",
                          run_dir=tmp_path / "r")  # fmt: skip
    assert json.loads((tmp_path / "r" / "prepare.json").read_text())["sets"].keys() == {"train"}
    assert "biogans.prepare: 10 splits of train" in proc.stdout
    with pytest.raises(ConfigError) as bad:
        run_in_process("prepare", "dataset=lin", f"dataset.root={train_root}", "dataset.classes=[Alp14,Nope1]",
                       f"dataset.cache_dir={tmp_path / 'c'}", run_dir=tmp_path / "r2")  # fmt: skip
    assert "Nope1" in str(bad.value) and "Alp14" in str(bad.value)  # names the culprit and what there is


def test_generator_classes_must_match_the_data():
    star = {"kind": "star", "class_names": ["A", "B", "C"]}
    check_generator_classes(star, ["A", "B", "C"], "g.pt")
    with pytest.raises(ConfigError, match=r"renders 3 classes.*gives 2 classes.*dataset.classes=\[A,B,C\]"):
        check_generator_classes(star, ["A", "B"], "g.pt")
    with pytest.raises(ConfigError, match="renders 3 classes"):
        check_generator_classes(star, ["B", "A", "C"], "g.pt")  # order matters: image c is class c
    joint = {"kind": "joint", "class_names": ["A", "B"]}
    check_generator_classes(joint, ["B", "A"], "g.pt")
    with pytest.raises(ConfigError, match=r"trained on classes \['A', 'B'\]"):
        check_generator_classes(joint, ["A", "C"], "g.pt")
