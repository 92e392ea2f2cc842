"""``python -m biogans.c2st``: the classifier two-sample test, fake vs real and real vs real.

Thresholds come from measurements on the tiny synthetic data (batch 8, ndf 16, WGAN-GP,
splits 0-2 x seeds 0-1, 100 critic steps as in the tests; 200 steps in brackets):

* real vs real, Tea1 (train set) vs Tea1 (test set): scores -0.80 .. -0.00, mean -0.17
  [-0.02 .. 1.03, mean 0.25]; Tea1 vs Cki2: 15.4 .. 24.9, mean 20.8 [24.5 .. 29.4, mean 28.1];
* fake vs real, the ``trained_run`` generator at iteration 1: 180.6 .. 183.8, mean 182.5
  [211.4 .. 215.2, mean 213.3]; at iteration 150: 71.8 .. 76.4, mean 74.2 [84.3 .. 85.9, mean 85.2].
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest
import torch
from conftest import TINY_DATA, run_in_process, typed

from biogans.core.data.splits import write_splits
from biogans.core.errors import BiogansError
from biogans.tasks.common import fresh_critic, loss_from, optimizer_from, read_set
from biogans.tasks.two_sample import run_c2st, score_critic, two_sample_test

#: small critic and batches: every test run takes seconds on 2 cores
SMALL = [*TINY_DATA, "batch_size=8", "ndf=16", "device=cpu", "progress=false"]


def c2st_json(run: Path) -> dict:
    return json.loads((run / "c2st.json").read_text())


def run_c2st_in_process(*overrides: str) -> dict:
    return run_c2st(typed("c2st", [*SMALL, *overrides])).to_dict()


# --------------------------------------------------------------------------- real vs real


def test_two_halves_of_one_class_are_closer_than_two_classes(prepared_splits, tmp_path):
    scores, separations = {}, {}
    for pair in ("Tea1,Tea1", "Tea1,Cki2"):
        run = tmp_path / pair.replace(",", "_")
        proc = run_in_process("c2st", *SMALL, "mode=real_vs_real", f"classes=[{pair}]", "split=3", "iterations=100",
                              run_dir=run)  # fmt: skip
        result = c2st_json(run)
        assert result["mode"] == "real_vs_real" and result["generator"] is None and result["per_class"] is None
        assert "real" not in result
        a, b = pair.split(",")
        assert result["a"] == {"set": "train", "classes": [a]} and result["b"] == {"set": "test", "classes": [b]}
        assert f"[a: {a} (train), b: {b} (test)]" in proc.stdout
        scores[pair] = result["score"]
        # beside the score: each of the 24 (train set) and at most 12 (test set) held-out images once
        separation = result["separation"]
        assert separation["n_a"] == 24 and 8 <= separation["n_b"] <= 12, separation
        assert result["per_class_separation"] is None and result["accuracy_rule"] == "train-threshold"
        assert result["p_value_test"].startswith("Mann-Whitney U, one-sided")
        assert f"{a} (train) vs {b} (test) (split 3, wgangp): score {result['score']:.3g}, AUC " in proc.stdout
        separations[pair] = separation
    # measured (module docstring): same class <= 0.0, different classes >= 15.4
    assert scores["Tea1,Tea1"] < 3.0 and scores["Tea1,Cki2"] > 10.0, scores
    assert separations["Tea1,Cki2"]["auc"] > 0.9 and separations["Tea1,Cki2"]["p_value"] < 1e-4, separations
    assert separations["Tea1,Tea1"]["auc"] < separations["Tea1,Cki2"]["auc"], separations


def test_same_seed_same_score_and_small_halves_shrink_the_batch(prepared_splits, caplog):
    common = ["mode=real_vs_real", "classes=[Tea1,Cki2]", "iterations=5", "eval_passes=2"]
    first = run_c2st_in_process(*common)
    assert run_c2st_in_process(*common)["score"] == first["score"]
    assert run_c2st_in_process(*common, "seed=1")["score"] != first["score"]
    # halves of 12 (Cki2 of the 24-image test set) and 24 images: batches of 12, with a warning
    with caplog.at_level(logging.WARNING, logger="biogans.tasks.two_sample"):
        small = run_c2st_in_process(*common, "batch_size=64")
    assert small["batch_size"] == 64 and small["batch_size_used"] == {"train": 12, "test": 12}
    assert "fewer than batch_size=64" in caplog.text
    assert small["eval_batches"] == 2  # one batch of 12 per pass over the smaller test half


def test_class_sets_pool_classes_on_one_side(prepared_splits):
    result = run_c2st_in_process("mode=real_vs_real", "classes=[[Tea1,Cki2],Alp14]", "iterations=3", "eval_passes=1")
    assert result["a"] == {"set": "train", "classes": ["Tea1", "Cki2"]}
    assert result["b"] == {"set": "test", "classes": ["Alp14"]}
    # a: both classes' halves of split 0 pooled (24 + 24 train-set images), b: 12 test-set images
    assert result["batch_size_used"] == {"train": 8, "test": 8} and math.isfinite(result["score"])
    same_set = run_c2st_in_process("mode=real_vs_real", "classes=[[Tea1,Cki2],Alp14]", "sets=[test,test]",
                                   "iterations=3", "eval_passes=1")  # fmt: skip
    assert same_set["a"]["set"] == same_set["b"]["set"] == "test"


# --------------------------------------------------------------------------- fake vs real


def test_trained_generator_scores_better_than_untrained(trained_run, prepared_splits, tmp_path):
    common = [*SMALL, "loss=wgangp", "split=3", "iterations=100"]
    trained = trained_run / "checkpoints" / "iter_0000150.pt"
    proc = run_in_process("c2st", *common, f"generator={trained}", run_dir=tmp_path)
    result = c2st_json(tmp_path)
    assert result["format"] == "biogans-c2st-v2" and result["mode"] == "fake_vs_real"
    assert result["generator"] == {
        "path": str(trained),
        "model": "dcgan",
        "kind": "joint",
        "iteration": 150,
        "train_loss": "gan",
        "run_dir": str(trained_run),
    }
    assert result["per_class"] is None  # a joint model is judged on its classes merged
    assert result["real"] == {"set": "test", "classes": ["Alp14", "Arp3", "Cki2", "Mkh1", "Sid2", "Tea1"]}
    for key, value in {"loss": "wgangp", "split": 3, "iterations": 100, "batch_size": 8, "ndf": 16}.items():
        assert result[key] == value
    assert result["eval_passes"] == 5 and result["seed"] == 0 and result["device"] == "cpu"
    assert result["eval_batches"] == 5 * (6 * 12 // 8)  # 5 passes of whole batches over the merged test half
    assert [step for step, _ in result["train_curve"]] == list(range(1, 101))
    assert result["elapsed_s"] > 0
    summary = (
        f"biogans.c2st: fake_vs_real wgangp split 3: score {result['score']:.3f} [generator {trained}, iteration 150]"
    )
    assert summary in proc.stdout
    # beside the score: the 72 real held-out images once each, the 5 x 9 x 8 fresh fakes once each
    assert (result["separation"]["n_a"], result["separation"]["n_b"]) == (72, 360)
    assert result["accuracy_rule"] == "train-threshold" and result["per_class_separation"] is None
    readable = (
        f"dcgan generator (iteration 150) vs 6 classes (test) (split 3, wgangp): score {result['score']:.3g}, AUC"
    )
    assert readable in proc.stdout and "on 72 real + 360 generated held-out images" in proc.stdout

    first = trained_run / "checkpoints" / "iter_0000001.pt"
    untrained = run_c2st(typed("c2st", [*common, f"generator={first}"])).to_dict()
    assert untrained["generator"]["iteration"] == 1
    # measured (module docstring): 180.6 .. 183.8 untrained, 71.8 .. 76.4 trained
    assert result["score"] < 130.0 and untrained["score"] > 130.0, (result["score"], untrained["score"])


def test_conditional_generator_is_scored_per_class(prepared_splits, star_run, tmp_path):
    ckpt = star_run / "checkpoints" / "last.pt"  # model=star loss=gan, 2 iterations
    proc = run_in_process("c2st", *SMALL, f"generator={ckpt}", "loss=gan", "iterations=10", "eval_passes=1",
                          run_dir=tmp_path / "c2st")  # fmt: skip
    result = c2st_json(tmp_path / "c2st")
    classes = ["Alp14", "Arp3", "Cki2", "Mkh1", "Sid2", "Tea1"]
    assert list(result["per_class"]) == classes
    assert math.isclose(result["score"], sum(result["per_class"].values()) / 6, rel_tol=1e-5)
    assert result["generator"]["kind"] == "star" and result["generator"]["iteration"] == 2
    assert result["real"]["classes"] == classes
    assert "(Alp14 " in proc.stdout and ", iteration 2]" in proc.stdout
    # per class: one pass of one batch of 8 of each class's 12 held-out images, and 8 fakes
    seps = result["per_class_separation"]
    assert list(seps) == classes and all((s["n_a"], s["n_b"]) == (8, 8) for s in seps.values()), seps
    overall = result["separation"]
    assert math.isclose(overall["auc"], sum(s["auc"] for s in seps.values()) / 6, rel_tol=1e-9)
    assert (overall["n_a"], overall["n_b"]) == (48, 48) and 0 <= overall["p_value"] <= 1
    assert result["accuracy_rule"] == "sign" and "Fisher" in result["p_value_test"]
    assert "AUC per class: Alp14 " in proc.stdout


def test_gan_and_wgan_run_and_wgan_keeps_the_critic_clipped(trained_run, prepared_splits):
    generator = f"generator={trained_run / 'checkpoints' / 'last.pt'}"
    for loss in ("gan", "wgan"):
        result = run_c2st_in_process(generator, f"loss={loss}", "iterations=10", "eval_passes=1")
        assert result["loss"] == loss and math.isfinite(result["score"])
    # the critic of the test itself: WGAN clips it after every step, and scoring never updates it
    spec = {"name": "dcgan", "kind": "joint", "separable": False, "red_portion": 0.5, "nz": 8, "ngf": 8, "ndf": 8,
            "n_classes": 1, "class_names": ["A"], "image_size": [48, 80], "critic_batchnorm": True}  # fmt: skip
    cfg = typed("c2st", ["mode=real_vs_real", "loss=wgan"])  # with the paper's RMSprop
    critic = fresh_critic(spec, batchnorm=True, ndf=8)
    loss = loss_from(cfg.loss)
    optimizer = optimizer_from(cfg.optimizer, critic.parameters())
    rng = torch.Generator().manual_seed(0)

    def draw(shift: float):
        return lambda: torch.rand(4, 2, 48, 80, generator=rng) + shift

    result = two_sample_test(critic, loss, optimizer, draw(0.0), draw(0.5), draw(0.0), draw(0.5), 5, 2, rng)
    assert all(p.abs().max() <= 0.01 + 1e-7 for p in critic.parameters())
    assert len(result.train_curve) == 5 and result.per_class_scores is None
    before = [p.clone() for p in critic.parameters()]
    wgangp = loss_from(typed("c2st", ["mode=real_vs_real"]).loss)
    score_critic(critic, wgangp, draw(0.0), draw(0.5), 2, rng)  # WGAN-GP: grads on
    assert all(torch.equal(a, b) for a, b in zip(before, critic.parameters())) and critic.training


# --------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def foreign_splits(tmp_path_factory) -> Path:
    """Split files of another data set (50 and 26 images per class, not 48 and 24)."""
    cfg = typed("c2st", ["mode=real_vs_real", "dataset.synthetic.n_train=50", "dataset.synthetic.n_test=26"])
    out = tmp_path_factory.mktemp("foreign-splits")
    for which in ("train", "test"):
        write_splits(read_set(cfg.dataset, which, classes=None), out, which, 4)
    return out


#: each bad input: the overrides ({name} stands for a path of the test) and what stderr must say
BAD_INPUTS = {
    "no generator": ([], ["generator=PATH"]),
    "iterations": (["mode=real_vs_real", "classes=[Tea1,Cki2]", "iterations=0"], ["iterations must be >= 1, got 0"]),
    "three classes": (["mode=real_vs_real", "classes=[Tea1,Cki2,Alp14]"], ["two classes", "Alp14"]),
    "unknown class": (["mode=real_vs_real", "classes=[Tea1,Nope1]"], ["Nope1"]),
    "overlapping sides": (
        ["mode=real_vs_real", "classes=[[Tea1,Cki2],Tea1]", "sets=[test,test]"],
        ["class(es) ['Tea1']", "compares images with themselves"],
    ),
    "double class": (["mode=real_vs_real", "classes=[[Tea1,Tea1],Cki2]"], ["classes[0] lists ['Tea1'] more than once"]),
    "split out of range": (["mode=real_vs_real", "classes=[Tea1,Cki2]", "split=10"], ["split index 10"]),
    "missing splits": (
        ["mode=real_vs_real", "classes=[Tea1,Cki2]", "dataset.splits_dir={tmp}"],
        ["{tmp}", "python -m biogans.prepare"],
    ),
    "foreign splits": (
        ["mode=real_vs_real", "classes=[Tea1,Cki2]", "dataset.splits_dir={foreign}"],
        ["{foreign}", "made from another dataset"],
    ),
    "classes with a generator": (["generator={trained}", "classes=[Tea1,Cki2]"], ["Tea1", "mode=real_vs_real"]),
    "class mismatch": (["generator={trained}", "dataset.classes=[Alp14,Arp3]"], ["{trained}", "dataset.classes="]),
    "random .pt": (["generator={random}"], ["{random}", "not a biogans checkpoint"]),
    "text file": (["generator={text}"], ["{text}", "not a readable PyTorch checkpoint"]),
    "missing file": (["generator={missing}"], ["{missing}", "does not exist"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_fails_with_a_clear_message(case, prepared_splits, dcgan_run, foreign_splits, bad_files, tmp_path):
    """In-process; the command line's one line, exit status 1 and no traceback: tests/test_cli_errors.py."""
    paths = {
        "tmp": tmp_path / "no-splits",
        "foreign": foreign_splits,
        "trained": dcgan_run / "checkpoints" / "last.pt",
        **bad_files,
    }
    overrides, expected = BAD_INPUTS[case]
    args = [o.format(**paths) for o in overrides]
    with pytest.raises(BiogansError) as info:
        run_in_process("c2st", *SMALL, *args, run_dir=tmp_path / "run")
    for text in expected:
        assert text.format(**paths) in str(info.value), (case, text, str(info.value))
    record = tmp_path / "run" / "c2st.json"  # no result: none, or the task contract's "failed" record
    assert not record.exists() or json.loads(record.read_text())["status"] == "failed", case
