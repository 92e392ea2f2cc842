"""``python -m biogans.prepare``: write the paper's evaluation splits as index files.

For each set of the data set (its training folder and, where there is one, its test
folder) and each split ``i`` in ``0..n_splits-1``, every class's sorted files are shuffled
with seed ``i + 1`` and halved (PAPER.md, "Splits for evaluation"); see
:mod:`biogans.core.data.splits`.  Every class folder is split, so any subset of classes can be
evaluated later.  The files go to ``dataset.splits_dir`` (default: a folder of the cache
named after the data set), where ``biogans.c2st`` looks for them.
"""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig

from biogans.cli import CONFIG_DIR, run_dir, run_entry
from biogans.config import PrepareConfig, check_schema
from biogans.core.errors import ConfigError
from biogans.core.files import write_json

log = logging.getLogger(__name__)


def prepare(cfg: DictConfig) -> dict:
    """Write the split files of both sets; returns (and writes as prepare.json) what was done."""
    from biogans.core.data.lin import read_lin_folder
    from biogans.core.data.sources import dataset_roots
    from biogans.core.data.splits import write_splits
    from biogans.tasks.common import splits_dir

    check_schema(cfg, PrepareConfig)
    if int(cfg.n_splits) < 1:
        raise ConfigError(f"n_splits must be >= 1, got {cfg.n_splits}")
    train_root, test_root = dataset_roots(cfg.dataset)
    out = splits_dir(cfg.dataset)
    size = [int(s) for s in cfg.dataset.image_size]
    summary: dict = {"splits_dir": str(out), "n_splits": int(cfg.n_splits), "sets": {}}
    for which, root in (("train", train_root), ("test", test_root)):
        if root is None:
            log.info("no dataset.test_root: only the training set is split")
            continue
        folder = read_lin_folder(root, classes=None, image_size=(size[0], size[1]))
        if cfg.dataset.classes is not None:
            missing = [name for name in cfg.dataset.classes if name not in folder.class_names]
            if missing:
                raise ConfigError(f"dataset.classes names {missing}, absent from {root} (it has {folder.class_names})")
        paths = write_splits(folder, out, which, int(cfg.n_splits))
        summary["sets"][which] = {
            "root": str(root),
            "classes": folder.class_counts(),
            "files": [str(p) for p in paths],
        }
    write_json(run_dir() / "prepare.json", summary)
    sets = ", ".join(
        f"{which} ({sum(info['classes'].values())} images, {len(info['classes'])} classes)"
        for which, info in summary["sets"].items()
    )
    print(f"biogans.prepare: {cfg.n_splits} splits of {sets} -> {out}")
    return summary


@hydra.main(config_path=CONFIG_DIR, config_name="prepare", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    return run_entry("prepare", lambda: prepare(cfg))


if __name__ == "__main__":
    main()
