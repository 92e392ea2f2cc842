"""Names the library and the config schema share: the choices that select code paths, and the paper's classes.

They live in the core (and :mod:`biogans.config` re-exports them) because the networks,
losses and data code switch on them and must not import the config layer.  Plain
:class:`~enum.Enum` subclasses with ``value == name``, so a spec dict or a result file can
store ``kind.value`` and read it back with ``ModelKind(text)``.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["PAPER_6_CLASSES", "PAPER_8_CLASSES", "DataSource", "LossName", "ModelKind", "OptimizerName"]

#: The paper's six classes (its "6class" views and conditional models), in the paper's order.
PAPER_6_CLASSES: tuple[str, ...] = ("Alp14", "Arp3", "Cki2", "Mkh1", "Sid2", "Tea1")
#: The six and the two more of the paper's real-vs-real table.
PAPER_8_CLASSES: tuple[str, ...] = (*PAPER_6_CLASSES, "Fim1", "Tea4")


class ModelKind(Enum):
    """How many towers a generator has and how they share the red part."""

    joint = "joint"  # one tower, two channels (dcgan, sep)
    star = "star"  # shared red tower, one green tower per class
    independent = "independent"  # one full generator per class
    multichannel = "multichannel"  # one tower with n_classes + 1 channels


class LossName(Enum):
    """The adversarial losses of PAPER.md, "Losses and training"."""

    gan = "gan"
    wgan = "wgan"
    wgangp = "wgangp"


class OptimizerName(Enum):
    adam = "adam"
    rmsprop = "rmsprop"


class DataSource(Enum):
    """Where a data set's LIN-layout folders come from."""

    synthetic = "synthetic"  # generated LIN-layout folders in a cache
    lin = "lin"  # a user's LIN-layout folders
