"""``python -m biogans.c2st``: the classifier two-sample test (see conf/c2st.yaml).

Fake vs real (``generator=CKPT``) or real vs real (``mode=real_vs_real``); the test itself
lives in :mod:`biogans.tasks.two_sample`.  Writes ``c2st.json`` into Hydra's run directory
and prints a one-line summary.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from biogans.cli import CONFIG_DIR, run_dir, run_entry
from biogans.config import C2STConfig, check_schema


def c2st(cfg: DictConfig) -> dict:
    """Check the config, run the test, write ``c2st.json`` and print the summary."""
    from biogans.tasks.two_sample import run_c2st, summary_line, write_result

    check_schema(cfg, C2STConfig)
    result = run_c2st(cfg)
    path = write_result(run_dir(), result)
    print(f"{summary_line(result)} -> {path}")
    return result


@hydra.main(config_path=CONFIG_DIR, config_name="c2st", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    return run_entry("c2st", lambda: c2st(cfg))


if __name__ == "__main__":
    main()
