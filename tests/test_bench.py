"""The benchmark times equal things: every timed path of ``python -m biogans.bench`` computes
the same numbers as its 2017-style reference, and the benchmark runs end to end.

Equality is checked on the very callables the benchmark times (:func:`build_case`), in
float64 on the CPU, fed the same real batches: after one run of each side the losses,
the gradients, the updated weights and the BatchNorm statistics of both sides agree to a
relative error below ``TOL`` = 1e-9 (float64 rounding, amplified a little by the
optimizer's division by the gradient's running norm; float32 would give about 1e-4).
Both tower implementations are checked for the conditional rows.  ``BIOGANS_TEST_DEVICE=cuda``
runs the same equality checks on a GPU (still float64; ``scripts/gpu_bench.sh`` does).  The data paths (a
per-image Dataset with numpy flips against on-device batches; the per-image fake
multi-channel composite against the batched one) are checked image by image.
"""

from __future__ import annotations

import itertools
import os
import random

import numpy as np
import pytest
import torch
from conftest import TINY_DATA, typed

from biogans.core.data.batches import normalise
from biogans.core.data.multichannel import composite
from biogans.core.models.generator import set_tower_impl
from biogans.core.names import ModelKind
from biogans.tasks import benchmark as bench
from biogans.tasks import benchmark_reference as ref

#: relative tolerance of every comparison below (float64)
TOL = 1e-9
#: six classes, as the paper: the multi-channel-sep family needs n_classes + 1 >= 7 for a red channel
CLASSES = ["a", "b", "c", "d", "e", "f"]
SIZE = [16, 16]
TINY = bench.Settings(batch_size=3, width=4, warmup=0, repeats=1)
#: where the equality checks run (the CPU unless ``BIOGANS_TEST_DEVICE`` names another)
DEVICE = torch.device(os.environ.get("BIOGANS_TEST_DEVICE", "cpu"))


@pytest.fixture
def float64():
    """float64, and one thread: the networks here are tiny, and two threads spinning on a
    busy two-core machine cost far more than they save."""
    previous, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    yield
    torch.set_default_dtype(previous)
    torch.set_num_threads(threads)


class SameBatches:
    """Both sides' data: the same fixed real batches, in the same order, for every kind."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def _stream(self, kind: str, batch: int):
        gen = torch.Generator().manual_seed(self.seed)
        shape = bench.batch_shape(kind, batch, len(CLASSES), SIZE)
        batches = [(torch.rand(shape, generator=gen) * 2 - 1).to(DEVICE) for _ in range(200)]
        return iter(batches)

    def batches(self, kind: str, batch: int, rng):
        stream = self._stream(kind, batch)

        class Next:
            def next(self):
                return next(stream)

        return Next()

    def reference_batches(self, kind: str, batch: int, seed: int, workers: int):
        return self._stream(kind, batch)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


def case(name: str, towers: str | None = None) -> bench.Case:
    c = bench.build_case(
        bench.ROWS[name], TINY, DEVICE, SameBatches(), class_names=CLASSES, image_size=SIZE,
        compare_towers=False,
    )  # fmt: skip
    if towers is not None:
        for ours, _, _ in c.models.values():
            set_tower_impl(ours, towers)
    return c


def assert_models_agree(c: bench.Case) -> None:
    """Weights, BatchNorm statistics and gradients of both sides agree (``TOL``)."""
    for role, (ours, theirs, pairs) in c.models.items():
        assert ref.max_grad_error(ours, theirs, pairs, "data") < TOL, f"{role} weights differ"
        assert ref.max_grad_error(ours, theirs, pairs, "grad") < TOL, f"{role} gradients differ"


TRAIN_ROWS = [name for name, row in bench.ROWS.items() if row.kind == "train"]
C2ST_ROWS = [name for name, row in bench.ROWS.items() if row.kind == "c2st"]


def _tower_choices(name: str) -> list[str | None]:
    family = bench.family(bench.ROWS[name].model, 64)
    conditional = family["kind"] in (ModelKind.star.value, ModelKind.independent.value)
    return ["grouped", "loop"] if conditional else [None]


@pytest.mark.parametrize(
    ("name", "towers"), [(n, t) for n in TRAIN_ROWS for t in _tower_choices(n)]
)  # fmt: skip
@pytest.mark.usefixtures("float64")
def test_training_iteration_equals_the_reference(name, towers):
    c = case(name, towers)
    (values, steps), (err_d, err_g) = c.fast(), c.reference()
    assert steps == c.facts["critic_steps"]
    assert rel(values["loss_critic"], err_d) < TOL
    assert rel(values["loss_generator"], err_g) < TOL
    assert_models_agree(c)
    # a second iteration from the updated state: optimizer moments agree too
    (values, _), (err_d, err_g) = c.fast(), c.reference()
    assert rel(values["loss_generator"], err_g) < TOL
    assert_models_agree(c)


@pytest.mark.parametrize(("name", "towers"), [(n, t) for n in C2ST_ROWS for t in _tower_choices(n)])
@pytest.mark.usefixtures("float64")
def test_two_sample_critic_step_equals_the_reference(name, towers):
    c = case(name, towers)
    stats, (err, _) = c.fast(), c.reference()
    assert rel(stats.loss.mean(), err) < TOL
    assert_models_agree(c)


@pytest.mark.usefixtures("float64")
def test_lbfgs_step_equals_the_reference():
    c = case("lbfgs_star")
    z, noise = c.fast(), c.reference()
    assert z.shape == noise.flatten(1).shape
    assert rel(z, noise.flatten(1)) < 1e-8  # L-BFGS iterates: rounding grows over its evaluations
    assert c.facts["evaluations"][0] > 1


@pytest.mark.usefixtures("float64")
def test_reference_weight_maps_cover_every_tensor():
    """Every row's reference gets every one of its tensors from ours (copy_into_reference checks
    coverage) and the two networks have the same number of weights."""
    for name in ("star_wgangp", "independent_sep_gan", "multichannel_sep_wgangp", "sep_wgan", "c2st_star_gan"):
        c = case(name)
        for ours, theirs, _ in c.models.values():
            assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


# --------------------------------------------------------------------------- data paths
def test_per_image_loading_equals_the_batched_transform():
    """The reference's per-image flip + normalise equals this project's batched one, all four flips."""
    gen = torch.Generator().manual_seed(0)
    image = torch.randint(0, 256, (2, 6, 10), dtype=torch.uint8, generator=gen)

    def flipped(x: torch.Tensor, fh: bool, fw: bool) -> torch.Tensor:
        x = x.flip(-2) if fh else x
        return x.flip(-1) if fw else x

    expected = {(fh, fw): flipped(normalise(image), fh, fw) for fh, fw in itertools.product([False, True], repeat=2)}
    seen = set()
    rng = random.Random(0)
    for _ in range(40):
        state = rng.getstate()
        fh, fw = rng.random() < 0.5, rng.random() < 0.5
        rng.setstate(state)
        out = ref._to_tensor(image.numpy(), rng, flips=True)
        assert out.dtype == torch.float32
        assert torch.equal(out, expected[(fh, fw)].float())
        seen.add((fh, fw))
    assert len(seen) == 4


def test_reference_loaders_give_whole_batches_of_the_right_images():
    images = torch.randint(0, 256, (12, 2, 6, 10), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    cache = ref.image_cache(images)
    pools = [list(range(5)), list(range(5, 12))]
    loaders = [ref.loader(ref.RefImageDataset(cache, p, seed=c), 2, c) for c, p in enumerate(pools)]
    stream = ref.conditional_batches(loaders)
    for _ in range(2):  # two epochs of the smaller class: 5 images give 2 whole batches each
        drawn: list[list[int]] = [[], []]
        for _ in range(2):
            batch = next(stream)
            assert batch.shape == (2, 2, 2, 6, 10)
            for c in range(2):
                for img in batch[c]:
                    matches = [k for k in pools[c] if _key(img) in _flips_of(normalise(images[k]).float())]
                    assert len(matches) == 1, "not a (flipped) image of its own class"
                    drawn[c] += matches
        for c in range(2):
            assert len(set(drawn[c])) == len(drawn[c]) == 4  # without replacement within an epoch


def _flips_of(x: torch.Tensor) -> set:
    return {_key(v) for v in (x, x.flip(-1), x.flip(-2), x.flip(-1).flip(-2))}


def _key(x: torch.Tensor) -> bytes:
    return x.float().numpy().tobytes()


def test_per_image_multichannel_composite_equals_the_batched_one():
    """With one neighbour per class (no random choice) both composites are the same image."""
    gen = torch.Generator().manual_seed(2)
    n, classes = 9, 3
    images = torch.randint(0, 256, (n, 2, 6, 10), dtype=torch.uint8, generator=gen)
    images[:, 0][images[:, 0] < 80] = 0  # a background, so that masks matter
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
    table = torch.zeros(n, classes, 1, dtype=torch.int64)
    for i in range(n):
        for c in range(classes):
            members = [j for j in range(n) if labels[j] == c and j != i]
            table[i, c, 0] = members[(i * 7 + c) % len(members)]
    batched = composite(images, labels, table, torch.arange(n), torch.Generator().manual_seed(0))
    dataset = ref.RefCompositeDataset(ref.image_cache(images), labels.tolist(), table.numpy(), flips=False)
    for i in range(n):
        assert np.array_equal(dataset.compose(i), batched[i].numpy())
        out, label = dataset[i]
        assert label == int(labels[i])
        assert torch.equal(out, normalise(batched[i]).float())


# --------------------------------------------------------------------------- the grid and the task
def test_paper_grid_counts_the_papers_runs():
    seconds = dict.fromkeys(bench.ROWS, 1.0)
    parts = bench.paper_grid(seconds, test_images_per_class=100, n_classes=6, batch=64)
    training = [p for p in parts if p.what.startswith("train")]
    assert len(training) == 14
    assert (
        sum(p.units for p in training if "wgan " not in p.what and "+ wgan," not in p.what) == 4 * 500_000 + 8 * 50_000
    )
    wgan = [p for p in training if "+ wgan," in p.what]
    assert len(wgan) == 2 and all(p.units > 500_000 for p in wgan)  # the warm-up's extra critic steps
    figure8 = sum(p.units for p in parts if p.what.startswith("Figure 8"))
    assert figure8 == 6 * 11 * 3 * 10 * 5000
    assert all(p.hours is not None for p in parts)
    missing = bench.paper_grid({"dcgan_gan": 1.0}, 100, 6, 64)
    assert any(p.hours is None for p in missing) and any(p.hours is not None for p in missing)


def test_flops_at_the_papers_size_are_counted_on_the_meta_device():
    settings = bench.Settings(64, 64, 0, 0)
    meta = bench.build_case(
        bench.ROWS["star_gan"], settings, torch.device("meta"), None, class_names=[str(i) for i in range(6)],
        image_size=[48, 80], reference=False,
    )  # fmt: skip
    flops = bench.count_flops(meta.fast)
    small = bench.build_case(
        bench.ROWS["star_gan"], bench.Settings(64, 32, 0, 0), torch.device("meta"), None,
        class_names=[str(i) for i in range(6)], image_size=[48, 80], reference=False,
    )  # fmt: skip
    ratio = flops / bench.count_flops(small.fast)
    assert 3.0 < ratio < 4.1  # convolutions grow with width squared (the first and last layers linearly)


def _run_bench(tmp_path, rows: list[str], *overrides: str):
    from biogans.core.records import read_record
    from biogans.tasks.contract import run_task

    # one thread: tiny networks, and a busy two-core machine makes two spinning threads very slow
    settings = ["preset=quick", "device=cpu", "threads=1", "progress=false", f"rows=[{','.join(rows)}]"]
    cfg = typed("bench", [*settings, *TINY_DATA, *overrides])
    record = run_task("bench", cfg, tmp_path)
    assert read_record(tmp_path / "bench.json") == record
    return record


def test_quick_benchmark_runs_in_process(tmp_path, capsys):
    rows = ["dcgan_gan", "star_gan", "lbfgs_star"]
    record = _run_bench(tmp_path, rows, "warmup=0", "repeats=2")
    assert record.status == "done" and [r.row for r in record.rows] == rows
    assert record.preset == "quick" and record.settings["batch_size"] == 4
    for r in record.rows:
        assert r.seconds > 0 and r.reference_seconds > 0 and r.speedup > 0
        assert r.flops > 0 and r.paper_flops > r.flops
        assert len(r.times["fast"]) == len(r.times["reference"]) == 2
        assert r.seconds == pytest.approx(sum(r.times["fast"]) / 2)  # the median of two
    star = record.rows[1]
    assert star.towers == "loop" and star.other_towers == "grouped" and star.other_seconds > 0
    assert record.rows[0].towers is None and record.rows[0].other_seconds is None
    assert record.rows[2].evaluations > 1
    assert record.environment["torch"] == torch.__version__
    assert record.grid is not None and record.grid.hours is None  # not every row was measured
    assert any(p.hours is not None for p in record.grid.parts)
    table = capsys.readouterr().out
    assert "| train DCGAN + GAN |" in table and "speedup" in table and "device-hours" in table


def test_unknown_rows_are_named(tmp_path):
    from biogans.core.errors import ConfigError

    with pytest.raises(ConfigError, match="star_wgan_gp"):
        _run_bench(tmp_path, ["star_wgan_gp"])


@pytest.mark.slow
def test_quick_benchmark_of_every_row_costs_the_whole_grid(tmp_path):
    record = _run_bench(tmp_path, list(bench.ROWS), "warmup=0", "repeats=1", "compare_towers=false")
    assert len(record.rows) == len(bench.ROWS)
    assert record.grid.hours > 0 and record.grid.reference_hours > 0


@pytest.mark.usefixtures("float64")
def test_critic_scores_real_and_fake_in_one_pass_only_without_batch_statistics():
    """One pass over real and fake gives each image's own score when no BatchNorm uses
    batch statistics; with such BatchNorm the passes stay separate (the paper's critic step)."""
    from biogans.core.losses import score_both
    from biogans.core.models.critic import Critic

    torch.manual_seed(0)
    real, fake = torch.randn(3, 5, 2, 16, 16), torch.randn(3, 7, 2, 16, 16)
    for batchnorm, train in ((False, True), (True, True), (True, False)):
        critic = Critic(ndf=4, image_size=(16, 16), n_towers=3, conditional=True, batchnorm=batchnorm).train(train)
        a, b = score_both(critic, real, fake)
        assert a.shape == (3, 5) and b.shape == (3, 7)
        assert rel(a, critic(real)) < TOL and rel(b, critic(fake)) < TOL
    critic = Critic(ndf=4, image_size=(16, 16), batchnorm=True).train()
    joint = critic(torch.cat([real[0], fake[0]]))[:5]
    assert rel(score_both(critic, real[0], fake[0])[0], joint) > 1e-3  # batch statistics do couple images
