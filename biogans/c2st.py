"""``python -m biogans.c2st``: the classifier two-sample test.

Fake vs real (``generator=CKPT``) or real vs real (``mode=real_vs_real``).  Settings:
conf/c2st.yaml and :class:`biogans.config.C2STConfig`; the test: :mod:`biogans.tasks.two_sample`.
Writes ``c2st.json`` into Hydra's run directory and prints a one-line summary.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from biogans.cli import CONFIG_DIR, run_tool


@hydra.main(config_path=CONFIG_DIR, config_name="c2st", version_base="1.3")
def main(cfg: DictConfig):
    """Typed values and the check gate, then the task in Hydra's run directory (:func:`biogans.cli.run_tool`)."""
    return run_tool("c2st", cfg)


if __name__ == "__main__":
    main()
