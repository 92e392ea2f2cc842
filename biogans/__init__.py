"""biogans: GANs for multi-channel fluorescence microscopy (after Osokin et al., ICCV 2017).

Three layers: :mod:`biogans.core` (networks, losses, data, checkpoint files, records; no
Hydra, plain arguments), :mod:`biogans.tasks` (one ``run(cfg, run_dir)`` per tool, on the
typed configs of :mod:`biogans.config`), and the entry points ``python -m biogans.<tool>``
(``train``, ``prepare``, ``c2st``, ``reconstruct``, ``interpolate``, ``report``, ``bench``),
thin Hydra mains over :mod:`biogans.cli`.  In Python, :func:`load_generator` gives a
trained generator ready to sample from, without importing Hydra.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_generator"]


def load_generator(path, model=None, device="cpu", **spec):
    """Load a generator from a checkpoint, in eval mode (see :func:`biogans.core.checkpoint.load_generator`)."""
    from biogans.core.checkpoint import load_generator as _load

    return _load(path, model=model, device=device, **spec)
