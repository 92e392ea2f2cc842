"""biogans: GANs for multi-channel fluorescence microscopy (after Osokin et al., ICCV 2017).

Entry points: ``python -m biogans.train`` (and, as they land, ``c2st``, ``reconstruct``,
``prepare``, ``interpolate``, ``report``).  In Python, :func:`load_generator` gives a
trained generator ready to sample from.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_generator"]


def load_generator(path, model=None, device="cpu", **spec):
    """Load a generator from a checkpoint, in eval mode (see :func:`biogans.core.checkpoint.load_generator`)."""
    from biogans.core.checkpoint import load_generator as _load

    return _load(path, model=model, device=device, **spec)
