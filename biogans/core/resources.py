"""Files that ship with the package: where the configs (``conf/``) are.

The command-line layer composes its Hydra configs from there, and the library reads the
paper's model families from ``conf/model/<family>.yaml`` (see
:mod:`biogans.core.models.legacy`), so both find the same files in a checkout and in an
installed wheel, where ``conf/`` is installed as ``biogans/conf``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["config_dir"]


def config_dir() -> Path:
    """Absolute path of the configs: the repository's ``conf/``, or the installed copy."""
    package = Path(__file__).resolve().parent.parent
    repo_conf = package.parent / "conf"  # a checkout (editable install)
    if (repo_conf / "train.yaml").is_file():
        return repo_conf
    return package / "conf"  # a wheel installs conf/ as biogans/conf
