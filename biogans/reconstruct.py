"""``python -m biogans.reconstruct generator=CKPT [optimise=separable]``: test-set reconstruction.

PAPER.md, "Evaluation 2": every selected image is searched for in the generator's latent
space (best of ``trials`` L-BFGS runs); see conf/reconstruct.yaml for the settings and
:mod:`biogans.tasks.reconstruction` for the method.  Writes ``reconstruction.json``
and ``panels/<Class>.png`` into Hydra's run directory and prints a one-line summary.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from biogans.cli import CONFIG_DIR, run_dir, run_entry
from biogans.config import ReconstructConfig, check_schema


def reconstruct(cfg: DictConfig) -> dict:
    """Check the config, reconstruct, write the result and print the summary."""
    from biogans.tasks.reconstruction import run_reconstruction, summary_line, write_result

    check_schema(cfg, ReconstructConfig)
    out = run_dir()
    result = run_reconstruction(cfg, out)
    write_result(out, result)
    print(f"{summary_line(result)} -> {out}")
    return result


@hydra.main(config_path=CONFIG_DIR, config_name="reconstruct", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    return run_entry("reconstruct", lambda: reconstruct(cfg))


if __name__ == "__main__":
    main()
