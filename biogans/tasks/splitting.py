"""The paper's evaluation splits, written as index files (``python -m biogans.prepare``).

For each set of the data set (its training folder and, where there is one, its test
folder) and each split ``i`` in ``0..n_splits-1``, every class's sorted files are shuffled
with seed ``i + 1`` and halved (PAPER.md, "Splits for evaluation"); see
:mod:`biogans.core.data.splits`.  Every class folder is split, so any subset of classes can be
evaluated later.  The files go to ``dataset.splits_dir`` (default: a folder of the cache
named after the data set), where ``biogans.c2st`` looks for them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from biogans.config import PrepareConfig
from biogans.core.data.lin import read_lin_folder
from biogans.core.data.splits import write_splits
from biogans.core.errors import ConfigError
from biogans.core.records import PreparedSet, PrepareRecord
from biogans.tasks.common import data_roots, splits_dir

__all__ = ["run", "summary_line"]

log = logging.getLogger(__name__)


def run(cfg: PrepareConfig, run_dir: Path) -> PrepareRecord:
    """Write the split files of both sets; returns the ``prepare.json`` record (the task contract writes it).

    ``run_dir`` holds only that record: the split files live in ``dataset.splits_dir``,
    shared by every tool that reads the same data set.
    """
    train_root, test_root = data_roots(cfg.dataset)
    out = splits_dir(cfg.dataset)
    height, width = cfg.dataset.image_size
    record = PrepareRecord(status="done", splits_dir=str(out), n_splits=cfg.n_splits)
    for which, root in (("train", train_root), ("test", test_root)):
        if root is None:
            log.info("no dataset.test_root: only the training set is split")
            continue
        folder = read_lin_folder(root, classes=None, image_size=(height, width))
        if cfg.dataset.classes is not None:
            missing = [name for name in cfg.dataset.classes if name not in folder.class_names]
            if missing:
                raise ConfigError(f"dataset.classes names {missing}, absent from {root} (it has {folder.class_names})")
        paths = write_splits(folder, out, which, cfg.n_splits)
        record.sets[which] = PreparedSet(root=str(root), classes=folder.class_counts(), files=[str(p) for p in paths])
    return record


def summary_line(record: PrepareRecord, run_dir: str | Path | None = None) -> str:
    """The one line the entry point prints."""
    sets = ", ".join(
        f"{which} ({sum(info.classes.values())} images, {len(info.classes)} classes)"
        for which, info in record.sets.items()
    )
    return f"biogans.prepare: {record.n_splits} splits of {sets} -> {record.splits_dir}"
