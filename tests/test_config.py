"""The config layer: typed values once, one home per default, one gate per check, a Hydra-free core.

Everything here runs in-process (Hydra's compose API and the entry points' own
:func:`biogans.cli.typed_config`), except the one check that needs a fresh interpreter:
that importing the core library does not import Hydra.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import CONF, ROOT, compose, typed

from biogans.config import (
    MISSING,
    SCHEMAS,
    DatasetConfig,
    LossConfig,
    ModelConfig,
    OptimizerConfig,
    TrainConfig,
    as_plain,
    check_class_list,
    check_config,
)
from biogans.core.errors import ConfigError
from biogans.core.losses import WGANLoss, make_loss, make_optimizer

PACKAGE = ROOT / "biogans"

# --------------------------------------------------------------------------- layers


def test_the_core_library_imports_neither_hydra_nor_the_config_layer():
    code = (
        "import sys\n"
        "import biogans, biogans.core.models, biogans.core.losses, biogans.core.checkpoint\n"
        "import biogans.core.data.sources, biogans.core.records\n"
        "from biogans.core.models.legacy import legacy_spec\n"
        "biogans.load_generator\n"
        "legacy_spec('star')  # reads conf/model/star.yaml\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('hydra', 'omegaconf')\n"
        "             or m in ('biogans.cli', 'biogans.config') or m.startswith('biogans.tasks'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """The biogans modules ``path`` imports (at module level only, or anywhere)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def test_no_import_cycle_among_module_level_imports():
    modules = _modules()
    graph = {
        name: {m for m in _imports(path, top_level_only=True) if m in modules and m != name}
        for name, path in modules.items()
    }
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail[trail.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_core_modules_never_import_the_config_layer_even_lazily():
    for name, path in _modules().items():
        if not name.startswith("biogans.core"):
            continue
        bad = sorted(
            m
            for m in _imports(path, top_level_only=False)
            if m.split(".")[0] in ("hydra", "omegaconf")
            or m.startswith(("biogans.cli", "biogans.config", "biogans.tasks"))
        )
        assert not bad, f"{name} imports {bad}"


def test_no_two_modules_share_a_file_name():
    names = [p.stem for p in PACKAGE.rglob("*.py") if p.stem != "__init__"]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


# --------------------------------------------------------------------------- one home per default

#: group -> its schema node
GROUPS = {"model": ModelConfig, "loss": LossConfig, "optimizer": OptimizerConfig, "dataset": DatasetConfig}


def _schema_defaults(schema: type) -> dict[str, object]:
    """Field name -> default (MISSING where the group's YAMLs give the value)."""
    out = {}
    for f in dataclasses.fields(schema):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            out[f.name] = MISSING
    return out


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_each_group_value_is_stated_once_in_the_yamls_or_the_schema(group):
    defaults = _schema_defaults(GROUPS[group])
    missing = {key for key, value in defaults.items() if value == MISSING}
    files = sorted((CONF / group).glob("*.yaml"))
    assert files
    for path in files:
        values = yaml.safe_load(path.read_text())
        twice = sorted(set(values) - missing)
        assert not twice, f"{path.name} sets {twice}, whose default is in biogans/config.py ({GROUPS[group].__name__})"
        absent = sorted(missing - set(values))
        assert not absent, f"{path.name} leaves {absent} without a value"


@pytest.mark.parametrize("tool", sorted(SCHEMAS))
def test_tool_yamls_carry_only_defaults_comments_and_hydra(tool):
    values = yaml.safe_load((CONF / f"{tool}.yaml").read_text())
    assert set(values) <= {"defaults", "hydra"}, f"conf/{tool}.yaml sets {sorted(set(values) - {'defaults', 'hydra'})}"
    assert values["defaults"][0] == f"{tool}_schema"


def test_the_paper_defaults_come_through():
    cfg = typed("train", [])
    assert isinstance(cfg, TrainConfig)
    assert (cfg.loss.gp_weight, cfg.loss.n_critic, cfg.loss.critic_batchnorm) == (10.0, 5, False)
    assert (cfg.optimizer.lr, cfg.optimizer.betas) == (1e-4, [0.0, 0.9])
    assert cfg.train.iterations == cfg.model.iterations == 500000
    wgan = typed("train", ["loss=wgan"])
    assert (wgan.optimizer.name.value, wgan.optimizer.betas, wgan.optimizer.alpha) == ("rmsprop", None, 0.99)
    assert typed("train", ["model=star"]).train.iterations == 50000


@pytest.mark.parametrize("family", sorted(p.stem for p in (CONF / "model").glob("*.yaml")))
def test_2017_families_read_the_same_yaml_as_training(family):
    from biogans.core.models.legacy import FAMILIES, legacy_spec

    model = typed("train", [f"model={family}"]).model
    assert family in FAMILIES
    spec = legacy_spec(family)
    for key in ("separable", "red_portion", "nz", "ngf", "ndf"):
        assert spec[key] == getattr(model, key), key
    assert spec["kind"] == model.kind.value


def test_every_group_choice_composes_and_passes_the_gate(tmp_path):
    for group in GROUPS:
        for path in sorted((CONF / group).glob("*.yaml")):
            extra = [f"dataset.root={tmp_path}"] if group == "dataset" and path.stem == "lin" else []
            typed("train", [f"{group}={path.stem}", *extra])


# --------------------------------------------------------------------------- typed values

GENERATOR = ["generator=some/checkpoint.pt"]


@pytest.mark.parametrize(
    ("tool", "overrides"),
    [
        ("train", []),
        ("prepare", []),
        ("c2st", GENERATOR),
        ("c2st", ["mode=real_vs_real", "classes=[[Alp14,Tea1],Cki2]"]),
        ("reconstruct", GENERATOR),
        ("interpolate", [*GENERATOR, "points=[3,17,42]", "model=star"]),
    ],
)
def test_typed_config_is_the_schema_with_plain_json_values(tool, overrides):
    cfg = typed(tool, overrides)
    assert type(cfg) is SCHEMAS[tool]
    plain = as_plain(cfg)
    assert json.loads(json.dumps(plain)) == plain  # JSON-able as it is: enums are their values
    assert "${" not in json.dumps(plain)  # interpolations resolved


def test_as_plain_turns_enums_into_values():
    plain = as_plain(typed("c2st", [*GENERATOR, "loss=gan"]))
    assert plain["mode"] == "fake_vs_real" and plain["loss"]["name"] == "gan" and plain["sets"] == ["train", "test"]
    assert plain["optimizer"]["name"] == "adam" and plain["dataset"]["source"] == "synthetic"


def test_a_value_no_yaml_gave_is_named():
    cfg = TrainConfig()  # built in Python: the group values are MISSING
    with pytest.raises(ConfigError, match=r"model.name has no value"):
        check_config(cfg)


def test_unknown_keys_are_refused_even_when_added_with_plus():
    with pytest.raises(ConfigError, match="checkpoint_evry"):
        typed("train", ["+train.checkpoint_evry=5"])


# --------------------------------------------------------------------------- the gate

#: (tool, overrides, the key (or words) the message must name)
BAD = [
    ("train", ["train.batch_size=0"], "train.batch_size"),
    ("train", ["train.iterations=0"], "train.iterations"),
    ("train", ["train.checkpoint_every=0"], "train.checkpoint_every"),
    ("train", ["train.sample_every=0"], "train.sample_every"),
    ("train", ["train.log_every=0"], "train.log_every"),
    ("train", ["train.n_samples=0"], "train.n_samples"),
    ("train", ["train.checkpoint_at=[10,0]"], "train.checkpoint_at"),
    ("train", ["optimizer.lr=0"], "optimizer.lr"),
    ("train", ["optimizer.lr=-1e-4"], "optimizer.lr"),
    ("train", ["optimizer.lr=nan"], "optimizer.lr"),
    ("train", ["optimizer.betas=[0.5,1.0]"], "optimizer.betas"),
    ("train", ["optimizer.betas=[0.5]"], "optimizer.betas"),
    ("train", ["optimizer.betas=[-0.1,0.9]"], "optimizer.betas"),
    ("train", ["optimizer.betas=null"], "optimizer.betas"),
    ("train", ["loss=wgan", "optimizer.betas=[0.5,0.9]"], "optimizer.betas"),
    ("train", ["optimizer.eps=-1e-8"], "optimizer.eps"),
    ("train", ["loss=wgan", "optimizer.alpha=1.5"], "optimizer.alpha"),
    ("train", ["optimizer.alpha=-0.1"], "optimizer.alpha"),
    ("train", ["optimizer.weight_decay=-0.01"], "optimizer.weight_decay"),
    ("train", ["loss.n_critic=0"], "loss.n_critic"),
    ("train", ["loss=wgan", "loss.clip=0"], "loss.clip"),
    ("train", ["loss=wgan", "loss.clip=-0.01"], "loss.clip"),
    ("train", ["loss.gp_weight=-10"], "loss.gp_weight"),
    ("train", ["loss.critic_batchnorm=true"], "loss.critic_batchnorm"),
    ("train", ["loss=wgan", "loss.warmup_critic_steps=-1"], "loss.warmup_critic_steps"),
    ("train", ["loss=wgan", "loss.warmup_iterations=-1"], "loss.warmup_iterations"),
    ("train", ["loss=wgan", "loss.warmup_every=-5"], "loss.warmup_every"),
    ("train", ["model.nz=1"], "model.nz"),
    ("train", ["model.ngf=0"], "model.ngf"),
    ("train", ["model.ndf=1"], "model.ndf"),
    ("train", ["model=sep", "model.red_portion=1.0"], "model.red_portion"),
    ("train", ["model=sep", "model.red_portion=0"], "model.red_portion"),
    ("train", ["model.iterations=0"], "model.iterations"),
    ("train", ["model=star", "model.separable=false"], "model.separable"),
    ("train", ["dataset.image_size=[50,80]"], "dataset.image_size"),
    ("train", ["dataset.image_size=[48]"], "dataset.image_size"),
    ("train", ["dataset.image_size=[4,80]"], "dataset.image_size"),
    ("train", ["dataset.synthetic.n_train=0"], "dataset.synthetic.n_train"),
    ("train", ["dataset.synthetic.n_test=0"], "dataset.synthetic.n_test"),
    ("train", ["dataset.synthetic.seed=-1"], "dataset.synthetic.seed"),
    ("train", ["dataset.synthetic.classes=[A,A]"], "dataset.synthetic.classes"),
    ("train", ["dataset.classes=[]"], "dataset.classes"),
    ("train", ["dataset.classes=[Tea1,Alp14,Tea1]"], "dataset.classes"),
    ("train", ["dataset.classes=[Alp14,Tea5]"], "Tea4"),  # the absent class, and what is made
    ("train", ["dataset=lin"], "dataset.root=PATH"),
    ("train", ["dataset.root=/data/x"], "dataset.root"),
    ("train", ["device=gpu"], "device"),
    ("train", ["device=cuda:x"], "device"),
    ("train", ["seed=-1"], "seed"),
    ("prepare", ["n_splits=0"], "n_splits"),
    ("prepare", ["dataset.image_size=[47,80]"], "dataset.image_size"),
    ("c2st", [*GENERATOR, "iterations=0"], "iterations must be >= 1, got 0"),
    ("c2st", [*GENERATOR, "batch_size=0"], "batch_size"),
    ("c2st", [*GENERATOR, "ndf=1"], "ndf"),
    ("c2st", [*GENERATOR, "eval_passes=0"], "eval_passes"),
    ("c2st", [*GENERATOR, "split=-1"], "split"),
    ("c2st", [*GENERATOR, "optimizer.lr=0"], "optimizer.lr"),
    ("c2st", [*GENERATOR, "loss.n_critic=0"], "loss.n_critic"),
    ("c2st", [*GENERATOR, "device=tpu"], "device"),
    ("c2st", [], "generator=PATH"),
    ("c2st", [*GENERATOR, "classes=[Tea1,Cki2]"], "mode=real_vs_real"),
    ("c2st", [*GENERATOR, "mode=real_vs_real", "classes=[Tea1,Cki2]"], "mode=fake_vs_real"),
    ("c2st", ["mode=real_vs_real", "classes=[Tea1,Cki2,Alp14]"], "two classes"),
    ("c2st", ["mode=real_vs_real", "classes=[[Tea1,Tea1],Cki2]"], "classes[0] lists ['Tea1'] more than once"),
    ("c2st", ["mode=real_vs_real", "classes=[[],Cki2]"], "classes[0]"),
    ("c2st", ["mode=real_vs_real", "sets=[train]"], "sets"),
    ("c2st", ["mode=real_vs_real", "sets=[test,test]"], "compares images with themselves"),
    ("reconstruct", [], "generator=PATH is required"),
    ("reconstruct", [*GENERATOR, "trials=0"], "trials must be >= 1, got 0"),
    ("reconstruct", [*GENERATOR, "steps=0"], "steps"),
    ("reconstruct", [*GENERATOR, "lr=-1"], "lr must be > 0, got -1"),
    ("reconstruct", [*GENERATOR, "max_iter=0"], "max_iter"),
    ("reconstruct", [*GENERATOR, "batch_size=0"], "batch_size"),
    ("reconstruct", [*GENERATOR, "max_images_per_class=0"], "max_images_per_class"),
    ("reconstruct", [*GENERATOR, "panels=-1"], "panels"),
    ("reconstruct", [*GENERATOR, "classes=[]"], "classes"),
    ("reconstruct", [*GENERATOR, "classes=[Tea1,Tea1]"], "['Tea1'] more than once"),
    ("interpolate", [], "generator=PATH is required"),
    ("interpolate", [*GENERATOR, "steps=1"], "steps"),
    ("interpolate", [*GENERATOR, "scale=0"], "scale"),
    ("interpolate", [*GENERATOR, "duration_s=0"], "duration_s"),
    ("interpolate", [*GENERATOR, "duration_s=inf"], "duration_s"),
    ("interpolate", [*GENERATOR, "strip_frames=0"], "strip_frames"),
    ("interpolate", [*GENERATOR, "batch_size=2"], "batch_size"),
    ("interpolate", [*GENERATOR, "points=[0,8,64]"], "batch_size=64"),
    ("interpolate", [*GENERATOR, "points=[1,1,2]"], "points"),
    ("interpolate", [*GENERATOR, "points=[1,2]"], "points"),
    ("interpolate", [*GENERATOR, "seed=-3"], "seed"),
    ("interpolate", [*GENERATOR, "device=cuda:"], "device"),
]


@pytest.mark.parametrize(("tool", "overrides", "named"), BAD, ids=[" ".join(o) for _, o, _ in BAD])
def test_the_gate_names_the_key_of_every_bad_value(tool, overrides, named):
    with pytest.raises(ConfigError) as info:
        typed(tool, overrides)
    assert named in str(info.value), str(info.value)


def test_good_values_at_the_edges_pass():
    typed("train", ["train.checkpoint_at=[]", "loss.gp_weight=0", "optimizer.betas=[0,0.999]", "device=cuda:1"])
    typed("train", ["loss=wgan", "optimizer.alpha=0", "optimizer.eps=0", "dataset.classes=null"])
    typed("c2st", ["mode=real_vs_real", "sets=[test,test]", "classes=[[Tea1,Cki2],Alp14]", "split=0"])
    typed("interpolate", [*GENERATOR, "batch_size=3", "points=[2,0,1]", "steps=2", "strip_frames=1"])
    typed("reconstruct", [*GENERATOR, "panels=0", "max_images_per_class=1"])


def test_class_lists_have_one_check():
    assert check_class_list(None, "k") is None
    assert check_class_list(["A", "B"], "k") == ["A", "B"]
    for bad, words in [([], "names no class"), (["A", "A"], "['A'] more than once"), ("A", "k=[A]"), ([""], "k")]:
        with pytest.raises(ConfigError, match="k") as info:
            check_class_list(bad, "k")
        assert words in str(info.value)
    with pytest.raises(ConfigError, match="k must be a list"):
        check_class_list(None, "k", allow_none=False)


def test_the_composed_config_still_prints_with_cfg_job():
    cfg = compose("train", ["model=star"])  # what --cfg job prints: every value, schema defaults included
    assert cfg.train.batch_size == 64 and cfg.model.name == "star" and cfg.seed == 0


# --------------------------------------------------------------------------- plain arguments to the core


def test_the_core_takes_plain_arguments():
    loss = make_loss("wgan", n_critic=5, clip=0.01, warmup_critic_steps=100, warmup_iterations=25, warmup_every=500)
    assert (
        isinstance(loss, WGANLoss) and loss.clip == 0.01 and loss.critic_steps(0) == 100 and loss.critic_steps(30) == 5
    )
    params = [torch.nn.Parameter(torch.zeros(2))]
    adam = make_optimizer("adam", params, lr=1e-4, betas=[0.0, 0.9])
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["betas"] == (0.0, 0.9)
    rms = make_optimizer("rmsprop", params, lr=5e-5, alpha=0.9)
    assert isinstance(rms, torch.optim.RMSprop) and rms.defaults["alpha"] == 0.9 and rms.defaults["eps"] == 1e-8
