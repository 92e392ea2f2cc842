"""``python -m biogans.interpolate generator=RUN/checkpoints/last.pt``: a cell-cycle movie.

Settings: conf/interpolate.yaml and :class:`biogans.config.InterpolateConfig`; what is
rendered and written (GIF, PNG strip, OME-TIFF, ``interpolation.json`` in the run dir):
:mod:`biogans.tasks.movie`.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from biogans.cli import CONFIG_DIR, run_tool


@hydra.main(config_path=CONFIG_DIR, config_name="interpolate", version_base="1.3")
def main(cfg: DictConfig):
    """Typed values and the check gate, then the task in Hydra's run directory (:func:`biogans.cli.run_tool`)."""
    return run_tool("interpolate", cfg)


if __name__ == "__main__":
    main()
