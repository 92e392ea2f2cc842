"""``python -m biogans.prepare``: write the paper's evaluation splits as index files.

Settings: conf/prepare.yaml and :class:`biogans.config.PrepareConfig`; the work:
:mod:`biogans.tasks.splitting`.  Writes the split files into ``dataset.splits_dir`` and
``prepare.json`` into Hydra's run directory, and prints a one-line summary.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from biogans.cli import CONFIG_DIR, run_tool


@hydra.main(config_path=CONFIG_DIR, config_name="prepare", version_base="1.3")
def main(cfg: DictConfig):
    """Typed values and the check gate, then the task in Hydra's run directory (:func:`biogans.cli.run_tool`)."""
    return run_tool("prepare", cfg)


if __name__ == "__main__":
    main()
