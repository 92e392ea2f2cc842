"""The paper's eight conditional training configurations, end to end on tiny synthetic data."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY, read_metrics, run_in_process
from torchvision.io import read_image

import biogans
from biogans.core.checkpoint import load_checkpoint
from biogans.core.errors import ConfigError, DataError

CLASSES = ["Alp14", "Arp3", "Cki2", "Mkh1", "Sid2", "Tea1"]


@pytest.mark.parametrize(
    ("model", "loss"),
    [
        ("star", "wgangp"),
        ("star", "gan"),
        ("independent", "wgangp"),
        ("independent", "gan"),
        ("independent_sep", "wgangp"),
        ("independent_sep", "gan"),
        ("multichannel", "wgangp"),
        ("multichannel_sep", "wgangp"),
    ],
)
def test_conditional_model_trains_end_to_end(tmp_path, model, loss):
    run = tmp_path / "run"
    run_in_process("train", f"model={model}", f"loss={loss}", *TINY, "train.iterations=3", run_dir=run)
    metrics = read_metrics(run)
    assert metrics["status"] == "done" and metrics["classes"] == CLASSES

    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["config"]["name"] == model and ckpt["config"]["n_classes"] == 6
    critic_in = ckpt["critic"]["main.0.weight"].shape  # grouped: one critic per class, or one with 7 channels
    g = biogans.load_generator(run / "checkpoints" / "last.pt")
    nz = g.nz
    with torch.no_grad():
        images = g(torch.randn(4, nz))
    if model.startswith("multichannel"):
        assert nz == 350 and images.shape == (4, 7, 48, 80)
        assert critic_in[1] == 7
    else:
        assert images.shape == (6, 4, 2, 48, 80)
        assert critic_in[0] == 6 * 16 and critic_in[1] == 2  # six critics of ndf 16, two channels each
    if model == "star":  # one shared red tower: every class has the same red
        assert torch.equal(images[:, :, 0], images[:1, :, 0].expand(6, -1, -1, -1))
    if model == "independent":
        assert not torch.allclose(images[0, :, 0], images[1, :, 0])
    sheet = read_image(str(run / "samples" / "iter_0000003.png"))
    assert sheet.shape == (3, 8 * 50 + 2, 6 * 82 + 2)  # 8 latent vectors x 6 classes


def test_conditional_model_needs_two_classes(tmp_path):
    with pytest.raises(ConfigError) as exc:
        run_in_process("train", "model=star", *TINY, "dataset.classes=[Tea1]", run_dir=tmp_path)
    assert "at least 2 classes" in str(exc.value) and "Tea1" in str(exc.value)


def test_conditional_batch_larger_than_a_class_names_the_class(tmp_path):
    with pytest.raises(DataError) as exc:
        run_in_process("train", "model=star", *TINY, "train.batch_size=60", run_dir=tmp_path)
    message = str(exc.value)
    assert "class 'Alp14'" in message and "48 images" in message and "batch of 60" in message
