"""Where a configured data set lives on disk, and reading it.

Real and synthetic data take one code path: the synthetic source is generated once, in
the LIN layout, into a cache folder and then read exactly like a user's LIN folders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from biogans.config import DataSource, to_plain
from biogans.core.data.lin import LinFolder, read_lin_folder
from biogans.core.errors import ConfigError


def dataset_roots(cfg: Any) -> tuple[Path, Path | None]:
    """``(train_root, test_root)`` of a ``DatasetConfig``; generates synthetic data on first use."""
    source = to_plain(cfg.source)
    size = [int(s) for s in cfg.image_size]
    if source == DataSource.synthetic.name:
        if cfg.root is not None or cfg.test_root is not None:
            raise ConfigError(
                "dataset=synthetic makes its own folders; to read folders of your own use "
                f"dataset=lin dataset.root=PATH (got dataset.root={cfg.root}, dataset.test_root={cfg.test_root})"
            )
        from biogans.core.data.synthetic import ensure_synthetic

        syn = cfg.synthetic
        return ensure_synthetic(
            Path(str(cfg.cache_dir)).expanduser() / "synthetic",
            classes=list(syn.classes),
            n_train=int(syn.n_train),
            n_test=int(syn.n_test),
            seed=int(syn.seed),
            height=size[0],
            width=size[1],
        )
    if cfg.root is None:
        raise ConfigError(
            f"dataset={cfg.name} reads LIN-layout folders: give dataset.root=PATH "
            "(the ..._train folder of class folders)"
        )
    test_root = Path(str(cfg.test_root)).expanduser() if cfg.test_root is not None else None
    return Path(str(cfg.root)).expanduser(), test_root


def load_folder(cfg: Any, which: str = "train") -> LinFolder:
    """Read the configured ``train`` (``dataset.root``) or ``test`` (``dataset.test_root``) folder."""
    train_root, test_root = dataset_roots(cfg)
    if which == "train":
        root = train_root
    elif which == "test":
        if test_root is None:
            raise ConfigError(f"this needs the test folder of dataset={cfg.name}: give dataset.test_root=PATH")
        root = test_root
    else:
        raise ValueError(f"which must be 'train' or 'test', got {which!r}")
    classes = list(cfg.classes) if cfg.classes is not None else None
    size = [int(s) for s in cfg.image_size]
    return read_lin_folder(root, classes=classes, image_size=(size[0], size[1]))
