"""``python -m biogans.train``: train one GAN of the paper (see conf/train.yaml)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from biogans.cli import CONFIG_DIR, run_dir, run_entry
from biogans.config import TrainConfig, check_schema


def train(cfg: DictConfig) -> dict:
    """Check the config, then train into Hydra's run directory."""
    from biogans.tasks.training import Trainer

    check_schema(cfg, TrainConfig)
    return Trainer(cfg, run_dir()).run()


@hydra.main(config_path=CONFIG_DIR, config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    return run_entry("train", lambda: train(cfg))


if __name__ == "__main__":
    main()
