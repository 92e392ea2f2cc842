"""``python -m biogans.train``: train one GAN of the paper.

Settings: conf/train.yaml and :class:`biogans.config.TrainConfig`; the loop, checkpoints,
samples and resume: :mod:`biogans.tasks.training`.  Writes into Hydra's run directory.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from biogans.cli import CONFIG_DIR, run_tool


@hydra.main(config_path=CONFIG_DIR, config_name="train", version_base="1.3")
def main(cfg: DictConfig):
    """Typed values and the check gate, then the task in Hydra's run directory (:func:`biogans.cli.run_tool`)."""
    return run_tool("train", cfg)


if __name__ == "__main__":
    main()
