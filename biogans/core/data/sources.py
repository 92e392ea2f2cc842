"""Where a data set's folders are on disk.

Real and synthetic data take one code path: the synthetic source is generated once, in
the LIN layout, into a cache folder and then read exactly like a user's LIN folders
(:func:`biogans.core.data.lin.read_lin_folder`).  Plain arguments only: the command line
checks the values (``dataset.*``) before they get here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from biogans.core.names import DataSource

__all__ = ["dataset_roots"]


def dataset_roots(
    source: str | DataSource,
    *,
    root: str | Path | None = None,
    test_root: str | Path | None = None,
    cache_dir: str | Path,
    image_size: Sequence[int],
    synthetic: Mapping[str, Any] | None = None,
) -> tuple[Path, Path | None]:
    """``(train_root, test_root)`` of a data set; generates synthetic data on first use.

    ``source`` ``lin``: ``root`` (the ``..._train`` folder of class folders) and, where there
    is one, ``test_root``.  ``synthetic``: folders made in ``cache_dir/synthetic`` from the
    ``synthetic`` settings (``classes``, ``n_train``, ``n_test``, ``seed``) at ``image_size``.
    """
    if DataSource(source) == DataSource.synthetic:
        from biogans.core.data.synthetic import ensure_synthetic

        if synthetic is None:
            raise ValueError("a synthetic data set needs its settings (classes, n_train, n_test, seed)")
        return ensure_synthetic(
            Path(cache_dir).expanduser() / "synthetic",
            classes=list(synthetic["classes"]),
            n_train=int(synthetic["n_train"]),
            n_test=int(synthetic["n_test"]),
            seed=int(synthetic["seed"]),
            height=int(image_size[0]),
            width=int(image_size[1]),
        )
    if root is None:
        raise ValueError("a LIN data set needs its root folder")
    return Path(root).expanduser(), Path(test_root).expanduser() if test_root is not None else None
