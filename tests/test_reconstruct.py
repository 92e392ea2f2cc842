"""``python -m biogans.reconstruct``: test images reconstructed through the latent space."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import TINY_DATA, run_in_process, typed
from torchvision.io import read_image

from biogans.core.checkpoint import load_generator
from biogans.core.errors import BiogansError, CheckpointError, ConfigError
from biogans.core.models import build_generator
from biogans.tasks.reconstruction import (
    PANEL_PADDING,
    batch_seed,
    fit_latent,
    gaussian_nll,
    image_l2,
    median_mad,
    nearest_neighbours,
    optimise_latent,
    plan_reconstruction,
    reconstruct_batch,
)

SMALL = [*TINY_DATA, "device=cpu", "progress=false"]
CLASSES = ["Alp14", "Arp3", "Cki2", "Mkh1", "Sid2", "Tea1"]


def frozen(path: Path):
    generator = load_generator(path)
    generator.requires_grad_(False)
    return generator


def tiny_spec(name: str, kind: str, separable: bool, n_classes: int = 1) -> dict:
    return {"name": name, "kind": kind, "separable": separable, "red_portion": 0.5, "nz": 12, "ngf": 8, "ndf": 8,
            "n_classes": n_classes, "class_names": CLASSES[:n_classes], "image_size": [48, 80],
            "critic_batchnorm": True}  # fmt: skip


# --------------------------------------------------------------------------- measures


def test_nll_l2_and_median_mad():
    z = torch.randn(5, 7, generator=torch.Generator().manual_seed(0))
    expected = -torch.distributions.Normal(0.0, 1.0).log_prob(z.double()).sum(1)
    assert torch.allclose(gaussian_nll(z), expected, rtol=1e-12)
    a = torch.full((2, 2, 3, 4), -1.0)
    b = a.clone()
    b[1] = 1.0  # image 1 differs by the whole range everywhere: error 1 in [0, 1] units
    b[0, 0, 0, 0] = 0.0  # one pixel of 24 off by half the range
    assert torch.allclose(image_l2(b, a), torch.tensor([math.sqrt(0.25 / 24), 1.0]))
    assert median_mad([1, 2, 3, 4, 100]) == (3.0, 1.0)
    assert median_mad([4, 1, 3, 2]) == (2.5, 1.0)
    with pytest.raises(ValueError):
        median_mad([])


def test_batch_seed_is_stable_and_distinct():
    assert batch_seed(0, "Tea1", 0) == batch_seed(0, "Tea1", 0)
    seeds = {batch_seed(s, c, b) for s in (0, 1) for c in ("Tea1", "Cki2") for b in (0, 1)}
    assert len(seeds) == 8 and all(0 <= s < 2**63 for s in seeds)


def test_nearest_neighbours_equal_brute_force():
    rng = torch.Generator().manual_seed(1)
    pool = torch.randint(0, 256, (23, 2, 6, 7), generator=rng, dtype=torch.uint8)
    pool[17] = pool[4]  # a duplicate: ties go to the first file
    targets = torch.randint(0, 256, (6, 2, 6, 7), generator=rng, dtype=torch.uint8)
    targets[2] = pool[4]
    index, dist = nearest_neighbours(targets, pool, chunk=4)
    brute = torch.cdist(targets.flatten(1).double(), pool.flatten(1).double())
    assert torch.equal(index, brute.argmin(1))
    assert torch.allclose(dist, brute.min(1).values / math.sqrt(2 * 6 * 7) / 255, rtol=1e-12)
    assert index[2] == 4 and dist[2] == 0
    # reconstructing the training set: an image never matches itself
    index, dist = nearest_neighbours(pool[:5], pool, chunk=4, exclude=torch.arange(5))
    assert not torch.equal(index, torch.arange(5)) and all(index[k] != k for k in range(5))
    assert index[4] == 17 and dist[4] == 0
    with pytest.raises(ValueError, match="image shape"):
        nearest_neighbours(targets, pool[:, :1])


# --------------------------------------------------------------------------- optimisation


def test_own_samples_are_recovered_far_better_than_random_z(trained_run):
    generator = frozen(trained_run / "checkpoints" / "last.pt")
    z_true = torch.randn(8, generator.nz, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        targets = generator(z_true)
    rng = torch.Generator().manual_seed(0)
    result = reconstruct_batch(generator, targets, generator.nz, trials=2, steps=20, rng=rng)
    l2, l2_init = result["l2"], result["l2_init"]
    # measured: L2 of the found z 6e-8 .. 1.3e-7, of the random starting z 0.0165 .. 0.0181
    # (this small GAN's samples differ little from each other; the real test images lie 0.1+ away)
    assert l2.max() < 1e-4 and (l2 < l2_init / 100).all(), (l2, l2_init)
    # the reported images are the generator's images of the reported z
    with torch.no_grad():
        assert torch.allclose(generator(result["z"]), result["reconstruction"], atol=1e-6)
        assert torch.allclose(generator(result["z_init"]), result["initial"], atol=1e-6)
    assert torch.allclose(result["nll"], gaussian_nll(result["z"]))


def test_each_image_keeps_its_own_best_trial():
    torch.manual_seed(0)
    generator = build_generator(tiny_spec("dcgan", "joint", separable=False)).eval()
    generator.requires_grad_(False)
    with torch.no_grad():
        targets = generator(torch.randn(8, generator.nz, generator=torch.Generator().manual_seed(1)))

    def run():
        return reconstruct_batch(
            generator, targets, generator.nz, trials=4, steps=1, rng=torch.Generator().manual_seed(3)
        )

    result = run()
    assert result["l2_trials"].shape == (4, 8)
    best, which = result["l2_trials"].min(0)
    assert torch.equal(result["l2"], best) and torch.equal(result["trial"], which)
    assert len(set(which.tolist())) > 1, which  # the winners come from different restarts
    assert torch.allclose(image_l2(result["reconstruction"], targets), result["l2"])
    with torch.no_grad():  # each image's z, starting z and images come from its winning trial
        assert torch.allclose(generator(result["z"]), result["reconstruction"], atol=1e-6)
        assert torch.allclose(generator(result["z_init"]), result["initial"], atol=1e-6)
    assert torch.equal(run()["z"], result["z"])  # the same rng seed gives the same result


def test_a_diverged_trial_never_wins_over_a_finite_one():
    """A toy renderer that returns NaN where z[:, 0] > 0: the finite trial wins per image."""

    def render(z):
        image = torch.tanh(z[:, :2]).view(-1, 2, 1, 1).expand(-1, 2, 4, 4)
        return torch.where(z[:, :1, None, None] > 0, torch.full_like(image, math.nan), image)

    targets = torch.zeros(16, 2, 4, 4)
    result = reconstruct_batch(render, targets, 2, trials=3, steps=1, rng=torch.Generator().manual_seed(0))
    trials = result["l2_trials"]
    for k in range(16):
        finite = trials[:, k][torch.isfinite(trials[:, k])]
        if len(finite):
            assert result["l2"][k] == finite.min()
        else:
            assert torch.isnan(result["l2"][k])
    assert torch.isnan(trials).any() and torch.isfinite(result["l2"]).sum() > torch.isfinite(trials[0]).sum()


def test_separable_fits_red_noise_on_red_then_green_noise_on_green():
    torch.manual_seed(0)
    generator = build_generator(tiny_spec("sep", "joint", separable=True)).double().eval()
    generator.requires_grad_(False)
    for weight in generator.parameters():  # out of the paper init's near-flat start (tiny gradients on z)
        if weight.dim() > 1:
            weight.mul_(10)
    red_nz, nz = generator.red_nz, generator.nz
    assert 0 < red_nz < nz
    rng = torch.Generator().manual_seed(2)
    z_true = torch.randn(4, nz, generator=rng, dtype=torch.float64)
    targets = generator(z_true)
    z0 = torch.randn(4, nz, generator=rng, dtype=torch.float64)

    red_only = fit_latent(generator, targets, z0, 5, 0.05, 20, dims=slice(0, red_nz), channels=slice(0, 1))
    assert torch.equal(red_only[:, red_nz:], z0[:, red_nz:])  # green noise untouched
    assert not torch.equal(red_only[:, :red_nz], z0[:, :red_nz])
    z = optimise_latent(generator, targets, z0, red_nz, "separable", 5, 0.05, 20)
    assert torch.equal(z[:, :red_nz], red_only[:, :red_nz])  # the green stage keeps the red noise
    assert not torch.equal(z[:, red_nz:], z0[:, red_nz:])

    def channel_error(latent, c):
        return image_l2(generator(latent)[:, c : c + 1], targets[:, c : c + 1]).mean()

    assert channel_error(red_only, 0) < channel_error(z0, 0) / 2
    assert channel_error(z, 1) < channel_error(red_only, 1)
    assert torch.equal(generator(z)[:, 0], generator(red_only)[:, 0])  # red depends on red noise only
    with pytest.raises(ConfigError, match="red_nz"):
        optimise_latent(generator, targets, z0, 0, "separable", 1, 0.05, 1)
    with pytest.raises(ConfigError, match="optimise='both'"):
        optimise_latent(generator, targets, z0, red_nz, "both", 1, 0.05, 1)


# --------------------------------------------------------------------------- the command


def test_command_writes_records_summaries_and_panels(trained_run, tmp_path):
    ckpt = trained_run / "checkpoints" / "last.pt"
    proc = run_in_process(
        "reconstruct", *SMALL, f"generator={ckpt}", "classes=[Tea1,Cki2]", "max_images_per_class=3",
        "trials=2", "steps=3", "panels=2", run_dir=tmp_path,
    )  # fmt: skip
    result = json.loads((tmp_path / "reconstruction.json").read_text())
    assert result["format"] == "biogans-reconstruction-v2"
    assert result["generator"]["model"] == "dcgan" and result["generator"]["iteration"] == 150
    assert result["generator"]["run_dir"] == str(trained_run)
    assert (result["optimise"], result["set"], result["trials"], result["steps"]) == ("joint", "test", 2, 3)
    assert result["classes"] == ["Tea1", "Cki2"] and len(result["images"]) == 6
    set_root, train_root = Path(result["dataset"]["set_root"]), Path(result["dataset"]["train_root"])
    for record in result["images"]:
        assert record["file"].startswith(record["class"] + "/") and (set_root / record["file"]).is_file()
        assert record["neighbour"].startswith(record["class"] + "/") and (train_root / record["neighbour"]).is_file()
        assert record["trial"] in (0, 1) and 0 < record["l2"] < 1 and record["nll"] > 0
    for name in ("Tea1", "Cki2"):
        mine = [r for r in result["images"] if r["class"] == name]
        summary = result["per_class"][name]
        assert summary["n"] == 3
        assert (summary["l2_median"], summary["l2_mad"]) == pytest.approx(median_mad([r["l2"] for r in mine]))
        assert (summary["nll_median"], summary["nll_mad"]) == pytest.approx(median_mad([r["nll"] for r in mine]))
    overall = result["overall"]
    assert overall["n"] == 6
    assert overall["l2_median"] == pytest.approx(median_mad([r["l2"] for r in result["images"]])[0])
    line = f"biogans.reconstruct: dcgan joint: L2 {overall['l2_median']:.3f} +- {overall['l2_mad']:.3f} over 6 images"
    assert line in proc.stdout

    # the panel: 2 rows of [target | reconstruction | initial | neighbour], the real files where real
    assert result["panels"] == {"Tea1": "panels/Tea1.png", "Cki2": "panels/Cki2.png"}
    panel = read_image(str(tmp_path / "panels" / "Tea1.png"))
    h, w = 48 + PANEL_PADDING, 80 + PANEL_PADDING
    assert panel.shape == (3, 2 * h + PANEL_PADDING, 4 * w + PANEL_PADDING)

    def cell(row: int, col: int) -> torch.Tensor:
        top, left = PANEL_PADDING + row * h, PANEL_PADDING + col * w
        return panel[:, top : top + 48, left : left + 80]

    tea1 = [r for r in result["images"] if r["class"] == "Tea1"]
    for row in range(2):
        assert torch.equal(cell(row, 0), read_image(str(set_root / tea1[row]["file"])))
        assert torch.equal(cell(row, 3), read_image(str(train_root / tea1[row]["neighbour"])))
        # the stored reconstruction's error, from the 8-bit panel, to within the rounding
        target, found = (cell(row, c)[:2].double() / 255 for c in (0, 1))
        assert (target - found).pow(2).mean().sqrt().item() == pytest.approx(tea1[row]["l2"], abs=0.005)


def test_conditional_generator_is_reconstructed_per_class_and_separably(star_checkpoint, tmp_path):
    """(``star_checkpoint``: a real, briefly trained star-shaped generator from the trainer, see conftest.)"""
    ckpt = star_checkpoint
    common = [*SMALL, f"generator={ckpt}", "max_images_per_class=2", "trials=1", "steps=2", "panels=0"]
    proc = run_in_process("reconstruct", *common, "optimise=separable", run_dir=tmp_path / "rec")
    result = json.loads((tmp_path / "rec" / "reconstruction.json").read_text())
    assert result["generator"]["kind"] == "star" and result["optimise"] == "separable"
    assert result["classes"] == CLASSES and list(result["per_class"]) == CLASSES
    assert [r["class"] for r in result["images"]] == [c for c in CLASSES for _ in range(2)]
    assert result["panels"] == {} and not (tmp_path / "rec" / "panels").exists()
    assert "star separable" in proc.stdout and "(6 classes)" in proc.stdout
    # each class renders through its own tower, and its numbers do not depend on the other classes
    plan = plan_reconstruction(typed("reconstruct", [*common, "classes=[Tea1,Alp14]"]))
    assert plan.towers == {"Tea1": 5, "Alp14": 0}
    alone = run_in_process("reconstruct", *common, "optimise=separable", "classes=[Mkh1]", run_dir=tmp_path / "one")
    assert alone.record.status == "done"
    one = json.loads((tmp_path / "one" / "reconstruction.json").read_text())
    assert one["images"] == [r for r in result["images"] if r["class"] == "Mkh1"]


# --------------------------------------------------------------------------- bad input


#: each bad input: the overrides ({name} stands for a path of the test), the error, what its message must say
BAD_INPUTS = {
    "no generator": ([], ConfigError, ["generator=PATH is required"]),
    "random .pt": (["generator={random}"], CheckpointError, ["{random}", "not a biogans checkpoint"]),
    "text file": (["generator={text}"], CheckpointError, ["{text}", "not a readable PyTorch checkpoint"]),
    "missing file": (["generator={missing}"], CheckpointError, ["{missing}", "does not exist"]),
    "separable on dcgan": (["generator={dcgan}", "optimise=separable"], ConfigError,
                           ["{dcgan}", "'dcgan'", "optimise=joint"]),
    "unknown class": (["generator={dcgan}", "classes=[Tea1,Nope1]"], ConfigError, ["'Nope1'", "{dcgan}"]),
    "class not in data": (["generator={dcgan}", "classes=[Tea1]", "dataset.classes=[Cki2]"], ConfigError,
                          ["'Tea1'", "Cki2"]),
    "image size": (["generator={dcgan}", "dataset.image_size=[64,64]"], ConfigError,
                   ["48 x 80", "dataset.image_size"]),
    "trials": (["generator={dcgan}", "trials=0"], ConfigError, ["trials must be >= 1, got 0"]),
    "lr": (["generator={dcgan}", "lr=-1"], ConfigError, ["lr must be > 0, got -1"]),
    "double class": (["generator={dcgan}", "classes=[Tea1,Tea1]"], ConfigError, ["['Tea1'] more than once"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_fails_with_a_clear_message(case, dcgan_run, bad_files, tmp_path):
    """In-process; the command line's one line, exit status 1 and no traceback: tests/test_cli_errors.py."""
    paths = {"dcgan": dcgan_run / "checkpoints" / "last.pt", **bad_files}
    overrides, error, expected = BAD_INPUTS[case]
    args = [o.format(**paths) for o in overrides]
    with pytest.raises(BiogansError) as info:
        run_in_process("reconstruct", *SMALL, *args, run_dir=tmp_path / "run")
    assert type(info.value) is error, (case, repr(info.value))
    for text in expected:
        assert text.format(**paths) in str(info.value), (case, text, str(info.value))
    record = tmp_path / "run" / "reconstruction.json"  # no result: none, or the task contract's "failed" record
    assert not record.exists() or json.loads(record.read_text())["status"] == "failed", case
