"""Generators and critics of the paper, built from a model spec.

A *model spec* is the plain-data description a checkpoint carries (``checkpoint["config"]``)
so that any tool can rebuild the networks from the file alone:

``{"name", "kind", "separable", "red_portion", "nz", "ngf", "ndf", "n_classes",
"class_names", "image_size", "critic_batchnorm"}``
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from biogans.core.errors import ConfigError
from biogans.core.models.critic import Critic
from biogans.core.models.generator import Generator
from biogans.core.names import ModelKind

__all__ = ["Critic", "Generator", "build_critic", "build_generator", "is_conditional", "make_spec"]

SPEC_KEYS = ("name", "kind", "separable", "red_portion", "nz", "ngf", "ndf", "n_classes", "class_names", "image_size")


def make_spec(
    model: Mapping[str, Any], class_names: Sequence[str], image_size: Sequence[int], critic_batchnorm: bool
) -> dict:
    """The model spec of a model family trained on ``class_names``.

    ``model`` is plain data with the family's ``name``, ``kind`` (a :class:`ModelKind` or its
    value), ``separable``, ``red_portion``, ``nz``, ``ngf`` and ``ndf`` (the ``model.*`` keys
    of a config, as :func:`biogans.config.as_plain` gives them); other keys are ignored.
    """
    spec = {key: model[key] for key in ("name", "kind", "separable", "red_portion", "nz", "ngf", "ndf")}
    if isinstance(spec["kind"], ModelKind):
        spec["kind"] = spec["kind"].value
    spec.update(
        n_classes=len(class_names),
        class_names=list(class_names),
        image_size=[int(s) for s in image_size],
        critic_batchnorm=bool(critic_batchnorm),
    )
    check_spec(spec)
    return spec


def check_spec(spec: Mapping[str, Any]) -> None:
    """Reject specs no network can be built from, naming the key."""
    missing = [key for key in SPEC_KEYS if key not in spec]
    if missing:
        raise ConfigError(f"model spec lacks {', '.join(missing)}")
    kinds = [k.value for k in ModelKind]
    if spec["kind"] not in kinds:
        raise ConfigError(f"model.kind={spec['kind']!r} is not one of {kinds}")
    if spec["kind"] == ModelKind.star.value and not spec["separable"]:
        raise ConfigError("model.kind=star shares a red tower, so it needs model.separable=true")
    if spec["kind"] != ModelKind.joint.value and spec["n_classes"] < 1:
        raise ConfigError(f"model.kind={spec['kind']} needs at least one class, got {spec['n_classes']}")
    for key in ("nz", "ngf", "ndf"):
        if int(spec[key]) < 2:
            raise ConfigError(f"model.{key} must be >= 2, got {spec[key]}")


def is_conditional(spec: Mapping[str, Any]) -> bool:
    """Whether the generator renders one image per class (star and independent)."""
    return spec["kind"] in (ModelKind.star.value, ModelKind.independent.value)


def build_generator(spec: Mapping[str, Any]) -> Generator:
    """The generator a spec describes (fresh weights, paper init)."""
    check_spec(spec)
    kind, n = spec["kind"], int(spec["n_classes"])
    common = {
        "nz": int(spec["nz"]),
        "ngf": int(spec["ngf"]),
        "image_size": tuple(spec["image_size"]),
        "separable": bool(spec["separable"]),
        "red_portion": float(spec["red_portion"]),
    }
    if kind == ModelKind.joint.value:
        return Generator(nc=2, **common)
    if kind == ModelKind.star.value:
        return Generator(nc=2, n_towers=n, shared_red=True, conditional=True, **common)
    if kind == ModelKind.independent.value:
        return Generator(nc=2, n_towers=n, shared_red=False, conditional=True, **common)
    return Generator(nc=n + 1, **common)


def build_critic(spec: Mapping[str, Any], batchnorm: bool | None = None, ndf: int | None = None) -> Critic:
    """The critic a spec's generator trains against (or, with ``ndf``, a fresh one for C2ST)."""
    check_spec(spec)
    kind, n = spec["kind"], int(spec["n_classes"])
    bn = bool(spec["critic_batchnorm"]) if batchnorm is None else batchnorm
    common = {"ndf": int(ndf or spec["ndf"]), "image_size": tuple(spec["image_size"]), "batchnorm": bn}
    if kind == ModelKind.joint.value:
        return Critic(nc=2, **common)
    if kind == ModelKind.multichannel.value:
        return Critic(nc=n + 1, **common)
    return Critic(nc=2, n_towers=n, conditional=True, **common)
