"""``python -m biogans.reconstruct generator=CKPT [optimise=separable]``: test-set reconstruction.

PAPER.md, "Evaluation 2": every selected image is searched for in the generator's latent
space (best of ``trials`` L-BFGS runs).  Settings: conf/reconstruct.yaml and
:class:`biogans.config.ReconstructConfig`; the method: :mod:`biogans.tasks.reconstruction`.
Writes ``reconstruction.json`` and ``panels/<Class>.png`` into Hydra's run directory and
prints a one-line summary.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from biogans.cli import CONFIG_DIR, run_tool


@hydra.main(config_path=CONFIG_DIR, config_name="reconstruct", version_base="1.3")
def main(cfg: DictConfig):
    """Typed values and the check gate, then the task in Hydra's run directory (:func:`biogans.cli.run_tool`)."""
    return run_tool("reconstruct", cfg)


if __name__ == "__main__":
    main()
