"""``python -m biogans.interpolate generator=RUN/checkpoints/last.pt``: a cell-cycle movie.

See conf/interpolate.yaml for the settings and :mod:`biogans.tasks.movie` for what is
rendered and written (GIF, PNG strip, OME-TIFF, ``interpolation.json`` in the run dir).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf

from biogans.cli import CONFIG_DIR, run_dir, run_entry
from biogans.config import InterpolateConfig, check_schema
from biogans.core.errors import ConfigError


def interpolate(cfg: DictConfig) -> dict:
    """Check the config, then render the movie into Hydra's run directory."""
    from biogans.tasks.movie import make_cell_cycle_movie, summary_line

    check_schema(cfg, InterpolateConfig)
    if OmegaConf.is_missing(cfg, "generator") or not str(cfg.generator).strip():
        raise ConfigError(
            "generator=PATH is required: the checkpoint to render, e.g. generator=outputs/train/RUN/checkpoints/last.pt"
        )
    points = OmegaConf.to_container(cfg.points) if cfg.points is not None else None
    out = run_dir()
    summary = make_cell_cycle_movie(
        cfg.generator,
        out,
        model=cfg.model.name if cfg.model is not None else None,
        seed=int(cfg.seed),
        batch_size=int(cfg.batch_size),
        points=points,
        steps=int(cfg.steps),
        scale=int(cfg.scale),
        duration_s=float(cfg.duration_s),
        strip_frames=int(cfg.strip_frames),
        caption=bool(cfg.caption),
        device=str(cfg.device),
    )
    print(summary_line(summary, out))
    return summary.to_dict()


@hydra.main(config_path=CONFIG_DIR, config_name="interpolate", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    return run_entry("interpolate", lambda: interpolate(cfg))


if __name__ == "__main__":
    main()
