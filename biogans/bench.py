"""``python -m biogans.bench``: training, two-sample and reconstruction steps timed beside a
2017-style reference, and the paper's grid costed in device-hours.

Settings: conf/bench.yaml and :class:`biogans.config.BenchConfig`; the benchmark:
:mod:`biogans.tasks.benchmark`.  Prints the table and writes ``bench.json`` into Hydra's
run directory; BENCHMARKS.md shows measured tables.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from biogans.cli import CONFIG_DIR, run_tool


@hydra.main(config_path=CONFIG_DIR, config_name="bench", version_base="1.3")
def main(cfg: DictConfig):
    """Typed values and the check gate, then the task in Hydra's run directory (:func:`biogans.cli.run_tool`)."""
    return run_tool("bench", cfg)


if __name__ == "__main__":
    main()
