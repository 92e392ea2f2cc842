"""State dicts released with the original 2017 code: read them into this project's modules.

The paper's authors released generators and discriminators as PyTorch 0.2 state dicts
(``netG_iter_500000.pth``, ...).  Their module names carry dots (``initial.100-512.convt``),
which modern PyTorch forbids, and the original ran class towers as separate modules where
this project runs them as one grouped convolution.  So those files cannot be loaded with
``load_state_dict``: their keys must be mapped, and per-tower tensors concatenated (or, for
the separable BatchNorm, split).  This module does that, for every model family of the
paper, and checks every key and shape so that a wrong file or a wrong family gives a clear
:class:`~biogans.core.errors.CheckpointError` instead of silently wrong images.

Key layout of the 2017 files, as this module reads it (PAPER.md, "Released checkpoints"):

* DCGAN generator (``dcgan``, ``multichannel``): ``main.<stage>.<in>-<out>.convt.weight``
  and ``main.<stage>.<out>.batchnorm.{weight,bias,running_mean,running_var}``, with
  ``<stage>`` one of ``initial``, ``pyramid`` (three times), ``final`` (no BatchNorm).
* Separable generator (``sep``, ``multichannel_sep``): the convolution of a block is
  ``main.<stage>.<in>-<out>.convt-sep.convt_half.weight`` (red: first ``int(in * r)``
  inputs to ``int(out * r)`` outputs) and ``...convt-sep.convt_all.weight`` (green: all
  inputs to the rest).  PAPER.md does not spell the key of the one BatchNorm over the
  concatenation ``[red, green]``; this module reads it as the plain
  ``main.<stage>.<out>.batchnorm.*`` and also accepts other module names that start with
  ``batchnorm`` or ``bn`` (``batchnorm-sep``, ``batchnorm_sep``, ``bn``), either at that
  place or inside the ``<in>-<out>`` block (``...<in>-<out>.convt-sep.batchnorm.*``).  The
  red and green convolutions are recognised by a module name containing ``sep`` followed
  by a name ending in ``half`` or ``all``.  Our ``red_bn`` gets the first ``int(out * r)``
  channels of that BatchNorm and ``green_bn`` the rest.
* Star-shaped generator (``star``): ``main.<layer>.convt_red.weight``,
  ``main.<layer>.batchnorm_red.*``, ``main.<layer>.convt_green.<c>.weight``,
  ``main.<layer>.batchnorm_green.<c>.*`` for layers 0..4, the last without BatchNorm.
  The green convolution of class ``c`` sees ``[red input, green input of c]``.
* Independent generators (``independent``, ``independent_sep``): ``main.<c>.`` followed by
  a full DCGAN (or separable) generator key, which itself starts with ``main.``
  (``main.0.main.initial.100-512.convt.weight``).  A file without the inner ``main.``
  (``main.0.initial...``) is accepted too.
* DCGAN discriminator: ``main.initial.<nc>-<ndf>.conv.weight``,
  ``main.pyramid.<c>-<2c>.conv.weight``, ``main.pyramid.<2c>.batchnorm.*`` (only when
  trained with BatchNorm), ``main.final.<8 ndf>-1.conv.weight``.  The star-shaped
  discriminator is ``main.<c>.`` followed by such a key.

Also tolerated, because they are what the surrounding tooling of 2017 produced: ``:`` in
place of ``.`` inside block names (the WGAN code the original grew from named blocks
``initial:100-512:convt``), a ``module.`` prefix (``nn.DataParallel``), and a missing
leading ``main.``.  PyTorch 0.2 has no ``num_batches_tracked``; it is filled with zero (it
only matters with ``momentum=None``, which the paper does not use).

Widths are never hard-coded: the expected keys are generated from the model spec, and
the spec's ``nz``, ``ngf``, ``ndf``, class count and image size are read off the file's
block names and shapes when the caller does not give them, so files trained with other
settings load too.  A value the caller does give must agree with the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
import yaml
from torch import Tensor

from biogans.core.checkpoint_file import is_biogans_checkpoint, load_checkpoint
from biogans.core.errors import CheckpointError, ConfigError
from biogans.core.models import build_critic, build_generator, check_spec
from biogans.core.models.critic import Critic
from biogans.core.models.generator import Generator
from biogans.core.names import PAPER_6_CLASSES, ModelKind
from biogans.core.resources import config_dir

__all__ = [
    "FAMILIES",
    "PAPER_CLASS_NAMES",
    "convert_critic_state",
    "convert_generator_state",
    "describe_legacy_state",
    "guess_legacy_family",
    "legacy_critic_has_batchnorm",
    "legacy_spec",
    "load_legacy_critic",
    "load_legacy_generator",
    "looks_like_legacy_state",
    "reject_unnamed_legacy_state",
]

#: the six proteins of the paper's conditional experiments, in the paper's order
PAPER_CLASS_NAMES: tuple[str, ...] = PAPER_6_CLASSES

#: the model families the 2017 code released files of
FAMILY_NAMES: tuple[str, ...] = (
    "dcgan",
    "sep",
    "star",
    "independent",
    "independent_sep",
    "multichannel",
    "multichannel_sep",
)

#: what a family's YAML fixes of the network, with the type each value must have
_FAMILY_KEYS: dict[str, tuple[type, ...]] = {
    "kind": (str,),
    "separable": (bool,),
    "red_portion": (float, int),
    "nz": (int,),
    "ngf": (int,),
    "ndf": (int,),
}


def _read_family(name: str) -> Mapping[str, Any]:
    """The paper's settings of a family, from ``conf/model/<name>.yaml``, plus what the 2017 files share.

    Those YAMLs are the one home of the families' settings: training takes its defaults
    from them, and so does this loader, so the two can never disagree.  Read with PyYAML
    (plain values only, no Hydra), on first use rather than at import.
    """
    path = config_dir() / "model" / f"{name}.yaml"
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the settings of the 2017 {name!r} model family from {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} holds no settings (a mapping of model.* keys) for the {name!r} model family")
    for key, types in _FAMILY_KEYS.items():
        value = data.get(key)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ConfigError(
                f"{path}: {key} must be {' or '.join(t.__name__ for t in types)} for the {name!r} model family, "
                f"got {value!r}"
            )
    kinds = [k.value for k in ModelKind]
    if data["kind"] not in kinds:
        raise ConfigError(f"{path}: kind={data['kind']!r} is not one of {kinds}")
    return MappingProxyType(
        {
            **{key: data[key] for key in _FAMILY_KEYS},
            "red_portion": float(data["red_portion"]),
            "n_classes": len(PAPER_CLASS_NAMES),
            "image_size": (48, 80),
            # the conditional models were trained with WGAN-GP, whose critic has no BN;
            # a critic file tells for itself (load_legacy_critic reads it off the keys)
            "critic_batchnorm": False,
        }
    )


class _Families(Mapping[str, Mapping[str, Any]]):
    """The families by name; their YAMLs are read on the first lookup of settings, then kept.

    Names (``in``, iteration, ``len``) need no file, so error messages can list the
    families without reading anything.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self._names = tuple(names)
        self._table: dict[str, Mapping[str, Any]] = {}

    def __getitem__(self, name: str) -> Mapping[str, Any]:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._table:
            self._table[name] = _read_family(name)
        return self._table[name]

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


#: the paper's settings of each 2017 model family (read-only); see :func:`legacy_spec`
FAMILIES: Mapping[str, Mapping[str, Any]] = _Families(FAMILY_NAMES)

#: spec keys a caller may override (everything else is fixed by the family)
OVERRIDES: tuple[str, ...] = (
    "nz",
    "ngf",
    "ndf",
    "red_portion",
    "n_classes",
    "class_names",
    "image_size",
    "critic_batchnorm",
)

_BN_PARAMS = ("weight", "bias", "running_mean", "running_var")
_NBT = "num_batches_tracked"
_STAGES = "initial|pyramid|final"
_PARAM = r"weight|bias|running_mean|running_var|num_batches_tracked"


def _families_text() -> str:
    return ", ".join(FAMILIES)


def legacy_spec(model: str, **overrides: Any) -> dict[str, Any]:
    """The model spec of a 2017 family, with the paper's settings unless overridden.

    ``overrides`` may set any of :data:`OVERRIDES`; ``None`` means "not given".  Giving
    ``n_classes`` alone names the classes after the paper when there are six of them and
    ``class_0``, ``class_1``, ... otherwise; giving ``class_names`` alone sets the count.
    """
    if model not in FAMILIES:
        raise ConfigError(f"unknown 2017 model family {model!r}; valid families: {_families_text()}")
    unknown = sorted(k for k in overrides if k not in OVERRIDES)
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {', '.join(unknown)} for a 2017 {model!r} model; valid ones: {', '.join(OVERRIDES)}"
        )
    given = {k: v for k, v in overrides.items() if v is not None}
    spec: dict[str, Any] = {"name": model, **FAMILIES[model]}
    spec.update({k: v for k, v in given.items() if k not in ("n_classes", "class_names")})
    names = given.get("class_names")
    count = given.get("n_classes")
    if names is not None:
        if isinstance(names, str):
            raise ConfigError(f"class_names must be a list of names, got the string {names!r}")
        names = [str(n) for n in names]
        if count is not None and int(count) != len(names):
            raise ConfigError(f"n_classes={count} but {len(names)} class_names were given: {names}")
        count = len(names)
    elif count is not None:
        count = int(count)
        names = list(PAPER_CLASS_NAMES) if count == len(PAPER_CLASS_NAMES) else [f"class_{i}" for i in range(count)]
    else:
        names, count = list(PAPER_CLASS_NAMES), len(PAPER_CLASS_NAMES)
    spec["n_classes"], spec["class_names"] = count, names
    size = spec["image_size"]
    if isinstance(size, (str, bytes)) or len(size) != 2:
        raise ConfigError(f"image_size must be (height, width), got {size!r}")
    spec["image_size"] = [int(size[0]), int(size[1])]
    for key in ("nz", "ngf", "ndf"):
        spec[key] = int(spec[key])
    spec["red_portion"] = float(spec["red_portion"])
    spec["critic_batchnorm"] = bool(spec["critic_batchnorm"])
    check_spec(spec)
    return spec


# --------------------------------------------------------------------------------------
# key normalisation: the tolerated spellings become one canonical spelling


_TOWER_WITHOUT_INNER_MAIN = re.compile(rf"^main\.(\d+)\.(?=(?:{_STAGES})\.)")
_BLOCK = re.compile(
    rf"^(?P<prefix>(?:main\.\d+\.)?main\.)(?P<stage>{_STAGES})\.(?P<a>\d+)(?:-(?P<b>\d+))?\."
    rf"(?P<mod>.+)\.(?P<param>{_PARAM})$"
)
_G_CONV = re.compile(
    rf"^(?:main\.(?P<tower>\d+)\.)?main\.(?P<stage>{_STAGES})\.(?P<cin>\d+)-(?P<cout>\d+)\."
    r"(?P<mod>convt|convt-sep\.convt_all|convt-sep\.convt_half)\.weight$"
)
_D_CONV = re.compile(
    rf"^(?:main\.(?P<tower>\d+)\.)?main\.(?P<stage>{_STAGES})\.(?P<cin>\d+)-(?P<cout>\d+)\.conv\.weight$"
)
_STAR_G = re.compile(r"^main\.(?P<layer>\d+)\.convt_(?:red|green\.(?P<tower>\d+))\.weight$")


def _canonical_module(mod: str, a: str, b: str | None) -> tuple[str, str] | None:
    """``(width part, module part)`` in canonical spelling, or None if not recognised."""
    tokens = mod.split(".")
    last = tokens[-1].lower()
    if last.startswith(("batchnorm", "batch_norm", "bn")):
        # the BatchNorm after a block is named by its width (the block's output width)
        return (b if b is not None else a), "batchnorm"
    if b is None:
        return None
    if len(tokens) == 1 and tokens[0] in ("convt", "conv"):
        return f"{a}-{b}", tokens[0]
    if len(tokens) == 2 and "sep" in tokens[0].lower():
        if last.endswith("half"):
            return f"{a}-{b}", "convt-sep.convt_half"
        if last.endswith("all"):
            return f"{a}-{b}", "convt-sep.convt_all"
    return None


def _canonical_key(key: str) -> str:
    """The canonical spelling of one 2017 key (unrecognised keys come back cleaned only)."""
    k = key.replace(":", ".")
    while k.startswith("module."):
        k = k[len("module.") :]
    if re.match(rf"^(?:{_STAGES})\.", k):
        k = "main." + k
    k = _TOWER_WITHOUT_INNER_MAIN.sub(lambda m: f"main.{m.group(1)}.main.", k)
    m = _BLOCK.match(k)
    if m is None:
        return k
    canon = _canonical_module(m["mod"], m["a"], m["b"])
    if canon is None:
        return k
    width, module = canon
    return f"{m['prefix']}{m['stage']}.{width}.{module}.{m['param']}"


def _canonicalise(state: Mapping[str, Tensor], source: str) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Canonical key -> tensor, and canonical key -> the key as spelled in the file."""
    canon: dict[str, Tensor] = {}
    original: dict[str, str] = {}
    for key, value in state.items():
        c = _canonical_key(key)
        if c in canon:
            raise CheckpointError(f"{source} has two keys for the same tensor: {original[c]!r} and {key!r}")
        canon[c], original[c] = value, key
    return canon, original


def _check_state(state: Any, source: str) -> Mapping[str, Tensor]:
    """A 2017 file is a flat mapping from strings to tensors; say what else it is."""
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{source} holds a {type(state).__name__}, not a state dict of a 2017 model")
    if is_biogans_checkpoint(state):
        raise CheckpointError(
            f"{source} is a biogans checkpoint, not a 2017 state dict: load it with "
            "biogans.load_generator(path) without model="
        )
    bad = [(k, type(v).__name__) for k, v in state.items() if not isinstance(k, str) or not isinstance(v, Tensor)]
    if bad:
        shown = ", ".join(f"{k!r} ({t})" for k, t in bad[:5])
        raise CheckpointError(
            f"{source} is not a state dict of a 2017 model: {len(bad)} of its {len(state)} entries are not tensors "
            f"({shown}{', ...' if len(bad) > 5 else ''})"
        )
    return state


# --------------------------------------------------------------------------------------
# guessing what a file holds (for error messages)


def _guess_canonical(canon: Mapping[str, Tensor]) -> tuple[str, str] | None:
    keys = list(canon)
    if any(_STAR_G.match(k) for k in keys):
        return "generator", "star"
    g_conv = [m for m in map(_G_CONV.match, keys) if m]
    d_conv = [m for m in map(_D_CONV.match, keys) if m]
    if len(g_conv) >= len(d_conv) and g_conv:
        sep = "_sep" if any(m["mod"] != "convt" for m in g_conv) else ""
        if any(m["tower"] is not None for m in g_conv):
            return "generator", "independent" + sep
        finals = {int(m["cout"]) for m in g_conv if m["stage"] == "final"}
        if finals and max(finals) > 2:
            return "generator", "multichannel" + sep
        return "generator", "sep" if sep else "dcgan"
    if d_conv:
        if any(m["tower"] is not None for m in d_conv):
            return "critic", "star"
        initials = {int(m["cin"]) for m in d_conv if m["stage"] == "initial"}
        return "critic", "multichannel" if initials and max(initials) > 2 else "dcgan"
    return None


def guess_legacy_family(state: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(role, family)`` a 2017 state dict looks like, from its key pattern alone.

    ``role`` is ``"generator"`` or ``"critic"``.  A generator's family is one of
    :data:`FAMILIES`; a critic's is ``"dcgan"`` (two channels), ``"multichannel"`` or
    ``"star"`` (one DCGAN critic per class, used with star and independent generators).
    None when no 2017 pattern is recognised.
    """
    canon = {_canonical_key(str(k)): v for k, v in state.items()}
    return _guess_canonical(canon)


def looks_like_legacy_state(data: Mapping[str, Any]) -> bool:
    """Whether ``data`` is a state dict whose keys follow a 2017 pattern."""
    return isinstance(data, Mapping) and bool(data) and guess_legacy_family(data) is not None


def describe_legacy_state(state: Mapping[str, Any]) -> str | None:
    """A phrase like ``"a 2017 'sep' generator"`` for messages, or None if unrecognised."""
    guess = guess_legacy_family(state)
    if guess is None:
        if any(str(k).startswith("layers.") for k in state):
            return "the state dict of a biogans Generator (keys like 'layers.0.green.weight'), not a 2017 file"
        return None
    role, family = guess
    if role == "generator":
        return f"a 2017 {family!r} generator"
    if family == "star":
        return "a 2017 star-shaped discriminator (netD, one critic per class), not a generator"
    return f"a 2017 {family!r} discriminator (netD), not a generator"


def reject_unnamed_legacy_state(data: Mapping[str, Any], source: str | PathLike[str]) -> None:
    """Raise if ``data`` is a 2017 state dict, which needs ``model=FAMILY`` to be loaded.

    The 2017 files carry no description of the network, so the family must come from the
    caller; the message suggests the family the keys point to.
    """
    if not isinstance(data, Mapping) or not data:
        return
    guess = guess_legacy_family(data)
    if guess is None:
        return
    hint = f" Its keys look like {describe_legacy_state(data)}"
    hint += f": try model={guess[1]!r}." if guess[0] == "generator" else "."
    raise CheckpointError(
        f"{source} looks like a state dict saved by the original 2017 code, not a biogans checkpoint; "
        f"name its family: model=FAMILY on the command line, load_generator(path, model=FAMILY) in Python, "
        f"FAMILY one of {_families_text()}.{hint}"
    )


# --------------------------------------------------------------------------------------
# recipes: which 2017 tensors make each tensor of our state dict


@dataclass
class _Recipe:
    """How our state dict is made from canonical 2017 keys.

    ``pieces[our_key]`` lists ``(2017 key, slice of dim 0 or None)``; the pieces are
    concatenated along dim 0 (towers are stacked along dim 0 in every grouped tensor).
    ``shapes`` holds the required 2017 keys and their shapes; ``optional`` the keys that
    PyTorch 0.2 did not write (``num_batches_tracked``).
    """

    pieces: dict[str, list[tuple[str, slice | None]]] = field(default_factory=dict)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    optional: set[str] = field(default_factory=set)

    def tensor(self, ours: str, sources: Iterable[tuple[str, tuple[int, ...], slice | None]]) -> None:
        self.pieces[ours] = []
        for key, shape, part in sources:
            self.shapes[key] = tuple(int(s) for s in shape)
            self.pieces[ours].append((key, part))

    def batchnorm(self, ours: str, sources: Iterable[tuple[str, int, slice | None]]) -> None:
        sources = list(sources)
        for param in _BN_PARAMS:
            self.tensor(f"{ours}.{param}", [(f"{key}.{param}", (width,), part) for key, width, part in sources])
        self.pieces[f"{ours}.{_NBT}"] = [(f"{key}.{_NBT}", None) for key, _, _ in sources]
        self.optional.update(f"{key}.{_NBT}" for key, _, _ in sources)


def _on_meta(build: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Build a module without allocating its weights: only its shapes are needed."""
    with torch.device("meta"):
        return build(*args, **kwargs)


def _stage(index: int, count: int) -> str:
    return "initial" if index == 0 else "final" if index == count - 1 else "pyramid"


def _generator_recipe(spec: Mapping[str, Any]) -> _Recipe:
    g: Generator = _on_meta(build_generator, spec)
    recipe = _Recipe()
    kind, n = spec["kind"], g.n_towers
    for i, layer in enumerate(g.layers):
        p, ours = layer.plan, f"layers.{i}"
        kernel = tuple(layer.green.weight.shape[-2:])
        if kind == "star":
            base = f"main.{i}"
            recipe.tensor(f"{ours}.red.weight", [(f"{base}.convt_red.weight", (p.red_in, p.red_out, *kernel), None)])
            recipe.tensor(
                f"{ours}.green.weight",
                [(f"{base}.convt_green.{c}.weight", (p.c_in, p.green_out, *kernel), None) for c in range(n)],
            )
            if not layer.final:
                recipe.batchnorm(f"{ours}.red_bn", [(f"{base}.batchnorm_red", p.red_out, None)])
                recipe.batchnorm(
                    f"{ours}.green_bn", [(f"{base}.batchnorm_green.{c}", p.green_out, None) for c in range(n)]
                )
            continue
        prefixes = [f"main.{c}." for c in range(n)] if kind == "independent" else [""]
        stage = _stage(i, len(g.layers))
        block = f"main.{stage}.{p.c_in}-{p.c_out}"
        bn = f"main.{stage}.{p.c_out}.batchnorm"
        if spec["separable"]:
            half, full = f"{block}.convt-sep.convt_half.weight", f"{block}.convt-sep.convt_all.weight"
            recipe.tensor(
                f"{ours}.red.weight", [(pre + half, (p.red_in, p.red_out, *kernel), None) for pre in prefixes]
            )
            recipe.tensor(
                f"{ours}.green.weight", [(pre + full, (p.c_in, p.green_out, *kernel), None) for pre in prefixes]
            )
            if not layer.final:
                # one BatchNorm over [red, green] in 2017; two here, so split its channels
                recipe.batchnorm(f"{ours}.red_bn", [(pre + bn, p.c_out, slice(0, p.red_out)) for pre in prefixes])
                recipe.batchnorm(
                    f"{ours}.green_bn", [(pre + bn, p.c_out, slice(p.red_out, p.c_out)) for pre in prefixes]
                )
        else:
            conv = f"{block}.convt.weight"
            recipe.tensor(f"{ours}.green.weight", [(pre + conv, (p.c_in, p.c_out, *kernel), None) for pre in prefixes])
            if not layer.final:
                recipe.batchnorm(f"{ours}.green_bn", [(pre + bn, p.c_out, None) for pre in prefixes])
    _check_recipe_covers(recipe, g)
    return recipe


def _critic_recipe(spec: Mapping[str, Any], batchnorm: bool) -> _Recipe:
    d: Critic = _on_meta(build_critic, spec, batchnorm=batchnorm)
    recipe = _Recipe()
    n = d.n_towers
    prefixes = [f"main.{c}." for c in range(n)] if d.conditional else [""]
    modules = list(d.main.named_children())
    convs = [(name, m) for name, m in modules if isinstance(m, torch.nn.Conv2d)]
    for j, (name, conv) in enumerate(convs):
        out_per, in_per, kh, kw = conv.weight.shape
        out_per //= n
        key = f"main.{_stage(j, len(convs))}.{in_per}-{out_per}.conv.weight"
        recipe.tensor(f"main.{name}.weight", [(pre + key, (out_per, in_per, kh, kw), None) for pre in prefixes])
    for name, module in modules:
        if isinstance(module, torch.nn.BatchNorm2d):
            width = module.num_features // n
            recipe.batchnorm(
                f"main.{name}", [(f"{pre}main.pyramid.{width}.batchnorm", width, None) for pre in prefixes]
            )
    _check_recipe_covers(recipe, d)
    return recipe


def _check_recipe_covers(recipe: _Recipe, module: torch.nn.Module) -> None:
    ours = set(module.state_dict())
    if set(recipe.pieces) != ours:  # a bug here, not a user error
        raise AssertionError(f"2017 key recipe does not cover the module: {sorted(ours ^ set(recipe.pieces))[:6]}")


# --------------------------------------------------------------------------------------
# checking and converting


def _first(items: list[str], count: int = 6) -> str:
    shown = ", ".join(repr(s) for s in items[:count])
    return f"[{shown}{', ...' if len(items) > count else ''}] ({len(items)} in all)"


#: how messages name the two roles
_ROLE_NAMES = {"generator": "generator", "critic": "discriminator (critic)"}

#: the discriminator layout each generator kind was trained against (PAPER.md)
_CRITIC_LAYOUT = {"joint": "dcgan", "multichannel": "multichannel", "star": "star", "independent": "star"}


def _wrong_family_hint(canon: Mapping[str, Tensor], role: str, model: str) -> str:
    guess = _guess_canonical(canon)
    if guess is None:
        if any(k.startswith("layers.") for k in canon):
            return " It looks like the state dict of a biogans Generator, not a 2017 file."
        return " No 2017 key pattern was recognised in it."
    g_role, g_family = guess
    if g_role != role:
        what = "discriminator (netD)" if g_role == "critic" else "generator (netG)"
        return f" It looks like a 2017 {what}, not a {_ROLE_NAMES[role]}."
    if role == "critic":
        expected = _CRITIC_LAYOUT.get(str(FAMILIES.get(model, {}).get("kind")), "")
        if expected and g_family != expected:
            users = [f for f, spec in FAMILIES.items() if _CRITIC_LAYOUT[spec["kind"]] == g_family]
            return f" This looks like the discriminator of a 2017 {' / '.join(map(repr, users))} model."
        return ""
    if g_family != model:
        return f" This looks like a 2017 {g_family!r} generator: try model={g_family!r}."
    return (
        f" Its keys follow the {model!r} pattern but do not all fit: the file may be incomplete, "
        "or the model was built with other settings (red_portion, image_size, ...)."
    )


def _convert(
    state: Mapping[str, Tensor], recipe: _Recipe, role: str, spec: Mapping[str, Any], source: str
) -> dict[str, Tensor]:
    state = _check_state(state, source)
    canon, original = _canonicalise(state, source)
    model = str(spec.get("name"))
    unexpected = [original[k] for k in canon if k not in recipe.shapes and k not in recipe.optional]
    missing = [k for k in recipe.shapes if k not in canon]
    if unexpected or missing:
        raise CheckpointError(
            f"{source} does not look like a 2017 {model!r} {_ROLE_NAMES[role]}: unexpected keys {_first(unexpected)}, "
            f"missing keys {_first(missing)}.{_wrong_family_hint(canon, role, model)}"
        )
    wrong = [
        f"{original[k]!r} is {tuple(canon[k].shape)}, expected {shape}"
        for k, shape in recipe.shapes.items()
        if tuple(canon[k].shape) != shape
    ]
    wrong += [
        f"{original[k]!r} is {tuple(canon[k].shape)}, expected ()"
        for k in recipe.optional
        if k in canon and canon[k].numel() != 1
    ]
    if wrong:
        relevant = ["nz", "ngf"] if role == "generator" else ["ndf"]
        if role == "generator" and spec["separable"]:
            relevant.append("red_portion")
        if spec["kind"] != "joint":
            relevant.append("n_classes")
        settings = ", ".join(f"{k}={spec[k]}" for k in [*relevant, "image_size"])
        raise CheckpointError(
            f"{source} has the keys of a 2017 {model!r} {_ROLE_NAMES[role]} but {len(wrong)} tensor(s) of other shapes "
            f"than {settings} gives: {'; '.join(wrong[:4])}{'; ...' if len(wrong) > 4 else ''}"
        )
    out: dict[str, Tensor] = {}
    for ours, pieces in recipe.pieces.items():
        if ours.endswith(f".{_NBT}"):
            counts = [canon[k].reshape(()).to(torch.long) for k, _ in pieces if k in canon]
            out[ours] = torch.stack(counts).max() if counts else torch.zeros((), dtype=torch.long)
        else:
            parts = [canon[k] if part is None else canon[k][part] for k, part in pieces]
            out[ours] = torch.cat(parts, dim=0)
    return out


def convert_generator_state(
    state: Mapping[str, Tensor], spec: Mapping[str, Any], source: str = "the state dict"
) -> dict[str, Tensor]:
    """A 2017 generator state dict as the state dict of ``build_generator(spec)``.

    Every key must be accounted for and every shape must fit ``spec``; otherwise a
    :class:`CheckpointError` lists the unexpected and missing keys (or wrong shapes) and,
    when the keys match another family, names it.  The returned tensors are copies.
    """
    return _convert(state, _generator_recipe(spec), "generator", spec, source)


def legacy_critic_has_batchnorm(state: Mapping[str, Any]) -> bool:
    """Whether a 2017 discriminator was built with BatchNorm (GAN, WGAN) or without (WGAN-GP)."""
    return any(".batchnorm." in _canonical_key(str(k)) for k in state)


def convert_critic_state(
    state: Mapping[str, Tensor],
    spec: Mapping[str, Any],
    batchnorm: bool | None = None,
    source: str = "the state dict",
) -> dict[str, Tensor]:
    """A 2017 discriminator state dict as the state dict of ``build_critic(spec, batchnorm=...)``.

    ``batchnorm=None`` reads it off the keys (:func:`legacy_critic_has_batchnorm`); build
    the critic with the same value.  Star and independent families use the star-shaped
    critic (``main.<c>.`` + a DCGAN critic key), multichannel ones a DCGAN critic with
    ``n_classes + 1`` channels.
    """
    if batchnorm is None:
        batchnorm = legacy_critic_has_batchnorm(_check_state(state, source))
    return _convert(state, _critic_recipe(spec, batchnorm), "critic", spec, source)


# --------------------------------------------------------------------------------------
# reading settings off a file


def _kernel(t: Tensor) -> tuple[int, int] | None:
    return (int(t.shape[-2]), int(t.shape[-1])) if t.dim() == 4 else None


def _image_size(kernel: tuple[int, int] | None, n_layers: int) -> list[int] | None:
    if kernel is None or n_layers < 2:
        return None
    scale = 2 ** (n_layers - 1)
    return [kernel[0] * scale, kernel[1] * scale]


def _conv_blocks(
    canon: Mapping[str, Tensor], pattern: re.Pattern[str], towered: bool
) -> tuple[dict[tuple[str, int, int], Tensor], set[int]]:
    """The convolution weights whose keys match ``pattern`` (with a tower prefix when
    ``towered``), one per ``(stage, in, out)`` block, and the tower indices seen."""
    blocks: dict[tuple[str, int, int], Tensor] = {}
    towers: set[int] = set()
    for key, t in canon.items():
        m = pattern.match(key)
        if m is None or (m["tower"] is not None) != towered:
            continue
        if m["tower"] is not None:
            towers.add(int(m["tower"]))
        blocks.setdefault((m["stage"], int(m["cin"]), int(m["cout"])), t)
    return blocks, towers


def _infer_generator(canon: Mapping[str, Tensor], kind: str) -> dict[str, Any]:
    """Settings a 2017 generator's keys and shapes fix, as far as they can be read."""
    found: dict[str, Any] = {}
    if kind == "star":
        layers: dict[int, Tensor] = {}
        towers: set[int] = set()
        for key, t in canon.items():
            m = _STAR_G.match(key)
            if m and m["tower"] is not None:
                towers.add(int(m["tower"]))
                layers.setdefault(int(m["layer"]), t)
        if not layers:
            return found
        first, last = layers[min(layers)], layers[max(layers)]
        found.update(nz=int(first.shape[0]), ngf=int(last.shape[0]), n_classes=max(towers) + 1)
        size = _image_size(_kernel(first), len(layers))
        if size is not None:
            found["image_size"] = size
        return found
    blocks, towers = _conv_blocks(canon, _G_CONV, towered=kind == "independent")
    initial = [(b, t) for b, t in blocks.items() if b[0] == "initial"]
    final = [b for b in blocks if b[0] == "final"]
    if len(initial) == 1:
        (_, nz, _), t = initial[0]
        found["nz"] = nz
        size = _image_size(_kernel(t), len(blocks))
        if size is not None:
            found["image_size"] = size
    if len(final) == 1:
        found["ngf"] = final[0][1]
        if kind == "multichannel":
            found["n_classes"] = final[0][2] - 1
    if towers:
        found["n_classes"] = max(towers) + 1
    return found


def _infer_critic(canon: Mapping[str, Tensor], kind: str) -> dict[str, Any]:
    """Settings a 2017 discriminator's keys and shapes fix, as far as they can be read."""
    found: dict[str, Any] = {}
    blocks, towers = _conv_blocks(canon, _D_CONV, towered=kind in ("star", "independent"))
    initial = [b for b in blocks if b[0] == "initial"]
    final = [(b, t) for b, t in blocks.items() if b[0] == "final"]
    if len(initial) == 1:
        found["ndf"] = initial[0][2]
        if kind == "multichannel":
            found["n_classes"] = initial[0][1] - 1
    if len(final) == 1:
        size = _image_size(_kernel(final[0][1]), len(blocks))
        if size is not None:
            found["image_size"] = size
    if towers:
        found["n_classes"] = max(towers) + 1
    return found


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _resolve_spec(
    model: str, role: str, found: Mapping[str, Any], overrides: Mapping[str, Any], source: str
) -> dict[str, Any]:
    """The family's spec with the file's settings, checked against the caller's."""
    legacy_spec(model, **overrides)  # unknown family / setting: say so before anything else
    given = {k: v for k, v in overrides.items() if v is not None}
    if "class_names" in given and "n_classes" not in given:
        given["n_classes"] = len(given["class_names"])
    what = _ROLE_NAMES[role]
    for key, value in found.items():
        if key in given and not _same(given[key], value):
            raise CheckpointError(
                f"{source} holds a 2017 {model!r} {what} with {key}={value} (read from its keys and shapes), "
                f"but {key}={given[key]} was asked for; leave {key} out to use the file's value"
            )
    if FAMILIES[model]["kind"] == "multichannel" and found.get("n_classes") == 1 and "n_classes" not in given:
        other = "sep" if FAMILIES[model]["separable"] else "dcgan"
        raise CheckpointError(
            f"{source} holds a {what} for 2-channel images, which is a 2017 {other!r} model, not {model!r} "
            f"(a multi-channel model has n_classes + 1 channels): try model={other!r}, or pass n_classes=1"
        )
    return legacy_spec(model, **{**found, **given})


def _read(path_or_state: str | PathLike[str] | Mapping[str, Tensor], source: str | PathLike[str] | None):
    if isinstance(path_or_state, (str, PathLike)):
        path = Path(path_or_state)
        return load_checkpoint(path), str(source if source is not None else path)
    return path_or_state, str(source if source is not None else "the state dict")


def load_legacy_generator(
    path_or_state: str | PathLike[str] | Mapping[str, Tensor],
    model: str,
    *,
    source: str | PathLike[str] | None = None,
    **overrides: Any,
) -> Generator:
    """A generator of the 2017 code as a biogans :class:`Generator`, in eval mode.

    ``model`` is the family (:data:`FAMILIES`), which the 2017 files do not record.
    ``overrides`` are spec settings (:data:`OVERRIDES`); ``nz``, ``ngf``, the class count
    and the image size default to what the file's keys and shapes say, ``red_portion`` to
    the family's.  ``source`` names the data in messages when a loaded dict is passed.
    """
    state, where = _read(path_or_state, source)
    state = _check_state(state, where)
    canon, _ = _canonicalise(state, where)
    kind = FAMILIES[model]["kind"] if model in FAMILIES else ""
    spec = _resolve_spec(model, "generator", _infer_generator(canon, kind), overrides, where)
    converted = convert_generator_state(state, spec, where)
    generator = build_generator(spec)
    generator.load_state_dict(converted, strict=True)
    generator.spec = dict(spec)  # what evaluation tools read (class names, family)
    return generator.eval()


def load_legacy_critic(
    path_or_state: str | PathLike[str] | Mapping[str, Tensor],
    model: str,
    *,
    source: str | PathLike[str] | None = None,
    **overrides: Any,
) -> Critic:
    """The discriminator (``netD``) of a 2017 ``model`` family as a biogans :class:`Critic`, in eval mode.

    BatchNorm is read off the keys (``critic_batchnorm`` in ``overrides`` must agree);
    ``ndf``, the class count and the image size default to the file's.
    """
    state, where = _read(path_or_state, source)
    state = _check_state(state, where)
    canon, _ = _canonicalise(state, where)
    kind = FAMILIES[model]["kind"] if model in FAMILIES else ""
    found = _infer_critic(canon, kind)
    found["critic_batchnorm"] = legacy_critic_has_batchnorm(state)
    spec = _resolve_spec(model, "critic", found, overrides, where)
    converted = convert_critic_state(state, spec, spec["critic_batchnorm"], where)
    critic = build_critic(spec, batchnorm=spec["critic_batchnorm"])
    critic.load_state_dict(converted, strict=True)
    return critic.eval()
