"""The paper's grid as sweeps, on this machine: experiment configs, deterministic places,
the skip-what-is-done launcher (``hydra/launcher=local``), bad input, SIGUSR2.

The same launcher logic on a real SLURM cluster is tested in test_slurm_sweeps.py.
Sweeps run in-process (the entry point's Hydra main with a command line), on the tiny
synthetic data, a few iterations each.
"""

from __future__ import annotations

import importlib
import json
import signal
import sys
from pathlib import Path

import pytest
from conftest import CONF, TINY, TINY_DATA, compose, read_metrics, start_module
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from biogans.config import PAPER_CHECKPOINTS
from hydra_plugins.biogans_launcher import _cluster
from hydra_plugins.biogans_launcher._naming import checkpoint_name, job_name, outputs_dir, safe_name
from hydra_plugins.biogans_launcher._plan import SweepError

#: (model, loss) of the paper's 14 runs (PAPER.md, "The paper's 14 training configurations")
JOINT = {(m, loss) for m in ("dcgan", "sep") for loss in ("gan", "wgan", "wgangp")}
CONDITIONAL = {(m, "wgangp") for m in ("star", "independent", "independent_sep", "multichannel", "multichannel_sep")}
CONDITIONAL |= {(m, "gan") for m in ("star", "independent", "independent_sep")}
OPTIMIZERS = {
    "gan": ("adam", 2e-4, [0.5, 0.999]),
    "wgan": ("rmsprop", 5e-5, None),
    "wgangp": ("adam", 1e-4, [0.0, 0.9]),
}


def experiments() -> list[str]:
    return sorted(p.stem for p in (CONF / "experiment").glob("paper_*.yaml"))


def value(x) -> str:
    return getattr(x, "value", x)


# ------------------------------------------------------------------------- the 14 runs
def test_the_experiments_are_the_papers_14_runs():
    names = experiments()
    assert len(names) == 14
    seen = set()
    for name in names:
        cfg = compose("train", [f"experiment={name}"])
        model, loss = cfg.model.name, value(cfg.loss.name)
        seen.add((model, loss))
        assert name == f"paper_{model}_{loss}"
        conditional = (model, loss) in CONDITIONAL
        assert cfg.train.iterations == (50_000 if conditional else 500_000)
        assert cfg.train.checkpoint_at == [c for c in PAPER_CHECKPOINTS if c <= cfg.train.iterations]
        opt, lr, betas = OPTIMIZERS[loss]
        assert (value(cfg.optimizer.name), cfg.optimizer.lr) == (opt, lr)
        if betas is not None:
            assert list(cfg.optimizer.betas) == betas
        assert cfg.dataset.name == "synthetic"  # whatever dataset is selected: the default here
    assert seen == JOINT | CONDITIONAL


def test_an_experiment_runs_on_the_dataset_selected_and_takes_overrides():
    cfg = compose("train", ["experiment=paper_star_gan", "dataset=lin", "dataset.root=/data/LIN", "train.iterations=7"])
    assert (cfg.model.name, value(cfg.loss.name), cfg.dataset.name, cfg.dataset.root) == (
        "star",
        "gan",
        "lin",
        "/data/LIN",
    )
    assert cfg.train.iterations == 7


def test_glob_over_experiments_is_the_whole_grid():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        parser = OverridesParser.create(config_loader=loader)
        override = parser.parse_overrides(["experiment=glob(paper_*)"])[0]
        assert sorted(override.sweep_string_iterator()) == experiments()


# --------------------------------------------------------------------------- places
def hydra_dirs(tool: str, overrides: list[str]) -> tuple[str, str, str]:
    """(run dir, sweep dir, sweep subdir) as Hydra would resolve them for these overrides."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = hydra_compose(tool, overrides=overrides, return_hydra_config=True)
        return tuple(str(OmegaConf.select(cfg, k)) for k in ("hydra.run.dir", "hydra.sweep.dir", "hydra.sweep.subdir"))


def test_run_and_sweep_dirs_follow_from_the_experiment_and_the_overrides():
    assert hydra_dirs("train", ["experiment=paper_dcgan_gan", "device=cpu"]) == (
        "outputs/paper/train/paper_dcgan_gan", "outputs/paper/train", "paper_dcgan_gan",
    )  # fmt: skip
    run, sweep, sub = hydra_dirs("train", ["model=sep", "loss=gan", "device=cpu", "train.iterations=9"])
    assert (run, sweep, sub) == ("outputs/train/loss=gan,model=sep", "outputs/train", "loss=gan,model=sep")
    assert hydra_dirs("train", [])[0] == "outputs/train/default"
    ckpt = "outputs/paper/train/paper_sep_wgan/checkpoints/iter_0005000.pt"
    run, _, _ = hydra_dirs("c2st", [f"generator={ckpt}", "split=3", "loss=gan"])
    assert run == "outputs/c2st/generator=paper_sep_wgan_iter_0005000,loss=gan,split=3"
    # a rerun of the same command finds the same place: no timestamp, no job number
    assert hydra_dirs("c2st", [f"generator={ckpt}", "split=3", "loss=gan"])[0] == run


def test_evaluation_grids_have_the_papers_size_and_find_training_checkpoints_by_path():
    sizes = {"figure8": 6 * 11 * 3 * 10, "table2": 8 * 3 * 10, "table1": 64 * 10, "baseline": 3 * 10, "table3": 4 * 2}
    tools = {"table3": "reconstruct"}
    for sweep, size in sizes.items():
        tool = tools.get(sweep, "c2st")
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = hydra_compose(tool, overrides=[f"+sweep={sweep}"], return_hydra_config=True)
            params = [f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()]
            parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
            jobs = BasicSweeper.split_arguments(parser.parse_overrides(params), None)[0]
        assert len(jobs) == size, sweep
        generators = {o.split("=", 1)[1] for job in jobs for o in job if o.startswith("generator=")}
        assert all(g.startswith("outputs/paper/train/paper_") and "/checkpoints/iter_" in g for g in generators)
    job = ["+sweep=figure8", "generator=outputs/paper/train/paper_sep_gan/checkpoints/iter_0000100.pt", "loss=wgan"]
    assert hydra_dirs("c2st", [*job, "split=7"])[1:] == (
        "outputs/paper/c2st/figure8", "paper_sep_gan/iter_0000100/wgan/split7",
    )  # fmt: skip
    pair = ["+sweep=table1", "classes=[Fim1,Tea4]", "split=2"]
    assert hydra_dirs("c2st", pair)[2] == "wgangp/Fim1_vs_Tea4/split2"
    table3 = ["+sweep=table3", "generator=outputs/paper/train/paper_star_gan/checkpoints/iter_0050000.pt"]
    assert hydra_dirs("reconstruct", [*table3, "optimise=separable"])[2] == "paper_star_gan/iter_0050000/separable"


def test_names_are_safe_and_deterministic():
    assert checkpoint_name("runs/x/checkpoints/iter_0000010.pt") == "x/iter_0000010"
    assert checkpoint_name("/somewhere/netG_iter_500000.pth") == "somewhere/netG_iter_500000"
    assert job_name(["b=2", "a=1", "device=cpu"], ["device"]) == "a=1,b=2"
    assert job_name(["experiment=paper_star_gan", "seed=3"]) == "paper_star_gan"
    assert job_name(["dataset.root=/data/LIN_train", "x=a b"]) == "dataset.root=LIN_train,x=a_b"
    assert job_name([]) == "default"
    long = job_name([f"k{i}=v{i}" for i in range(60)])
    assert len(long) <= 120 and long == job_name([f"k{i}=v{i}" for i in range(60)])
    assert long != job_name([f"k{i}=v{i}" for i in range(61)])
    assert outputs_dir("train", ["experiment=glob(paper_*)"]) == "outputs/paper/train"
    assert outputs_dir("train", ["experiment=null"]) == "outputs/train"
    assert "/" not in safe_name("a/b/../c")


# --------------------------------------------------------------------------- bad input
def multirun(capsys, tool: str, *overrides: str) -> tuple[int, str]:
    """``python -m biogans.<tool> -m overrides...`` in this process: (exit status, output)."""
    main = importlib.import_module(f"biogans.{tool}").main
    argv, sys.argv = sys.argv, [f"{tool}.py", "-m", *overrides]
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = argv
    out = capsys.readouterr()
    return code, out.out + out.err


def test_bad_sweeps_are_refused_by_name_and_leave_no_directory(tmp_path, capsys):
    where = tmp_path / "sweep"
    code, out = multirun(capsys, "train", "experiment=paper_dcgan_gan,paper_nope", f"hydra.sweep.dir={where}")
    assert code == 1 and "experiment/paper_nope" in out
    code, out = multirun(capsys, "train", "experiment=glob(nothing_*)", f"hydra.sweep.dir={where}")
    assert code == 1 and "'experiment=glob(nothing_*)' matches nothing" in out and "paper_star_gan" in out
    code, out = multirun(capsys, "train", "experiment=paper_dcgan_gan", "seed=0,1", f"hydra.sweep.dir={where}")
    assert code == 1 and "would both write into" in out and "seed=1" in out
    code, out = multirun(
        capsys, "train", "experiment=paper_dcgan_gan", "train.batch_size=0", f"hydra.sweep.dir={where}"
    )
    assert code == 1 and "train.batch_size" in out
    assert not where.exists() and list(tmp_path.iterdir()) == []


def test_slurm_requests_no_node_can_meet_are_refused_naming_the_key(monkeypatch):
    debug = _cluster.Partition("debug", True, cpus=2, memory_mb=21694, gpus=0, time_limit_min=None)
    gpu = _cluster.Partition("gpu", False, cpus=64, memory_mb=512000, gpus=4, time_limit_min=2880)
    monkeypatch.setattr(_cluster, "partitions", lambda: {"debug": debug, "gpu": gpu})
    ok = {"timeout_min": 60, "signal_delay_s": 120, "cpus_per_task": 2, "mem_gb": 4, "gpus_per_node": 0}
    assert _cluster.check_request(ok) is debug
    assert _cluster.check_request({**ok, "partition": "gpu", "gpus_per_node": 4, "cpus_per_task": 16}) is gpu
    bad = {
        "partition=nope": ({"partition": "nope"}, "hydra.launcher.partition=nope: no such partition"),
        "cpus": ({"cpus_per_task": 3}, "hydra.launcher.cpus_per_task=3: no node of partition 'debug' has more than 2"),
        "memory": ({"mem_gb": 64}, "hydra.launcher.mem_gb=64"),
        "gpus": ({"gpus_per_node": 1}, "hydra.launcher.gpus_per_node=1: partition 'debug' has no GPUs"),
        "time": ({"partition": "gpu", "timeout_min": 5000}, "hydra.launcher.timeout_min=5000"),
        "signal": ({"timeout_min": 1, "signal_delay_s": 120}, "hydra.launcher.signal_delay_s=120 is not shorter"),
    }
    for what, (change, message) in bad.items():
        with pytest.raises(SweepError) as info:
            _cluster.check_request({**ok, **change})
        assert message in str(info.value), what
    assert _cluster._gpus("gpu:a100:2(S:0-1),shard:8") == 2 and _cluster._gpus("(null)") == 0
    assert _cluster._minutes("1-02:03:00") == 1563 and _cluster._minutes("infinite") is None


# ----------------------------------------------------------------- local sweeps end to end
def record(run: Path, name: str = "metrics.json") -> dict:
    return json.loads((run / name).read_text())


@pytest.mark.slow
def test_local_sweep_skips_done_jobs_reruns_removed_ones_and_lists_failures(tmp_path, capsys, prepared_splits):
    sweep = tmp_path / "train"
    args = ["experiment=paper_dcgan_gan,paper_sep_gan", *TINY, "train.iterations=2", f"hydra.sweep.dir={sweep}"]
    code, out = multirun(capsys, "train", *args)
    assert code == 0, out
    dcgan, sep = sweep / "paper_dcgan_gan", sweep / "paper_sep_gan"
    assert record(dcgan)["status"] == record(sep)["status"] == "done"
    assert (dcgan / "checkpoints" / "iter_0000002.pt").is_file()
    stamps = {run: (run / "metrics.json").stat().st_mtime_ns for run in (dcgan, sep)}

    code, out = multirun(capsys, "train", *args)  # the same command again: nothing to do
    assert code == 0 and "launching 0 of 2 jobs" in out and "2 done" in out
    assert {run: (run / "metrics.json").stat().st_mtime_ns for run in (dcgan, sep)} == stamps

    # the same places with another config: refused, naming the key, nothing touched
    code, out = multirun(capsys, "train", *args, "optimizer.lr=0.001")
    assert code == 1 and "conflict" in out and "optimizer.lr: 0.0002 -> 0.001" in out
    assert {run: (run / "metrics.json").stat().st_mtime_ns for run in (dcgan, sep)} == stamps

    for path in [sep / "metrics.json", *(sep / "checkpoints").iterdir()]:
        path.unlink()
    code, out = multirun(capsys, "train", *args)  # exactly the job whose results were removed
    assert code == 0 and "launching 1 of 2 jobs" in out and "paper_sep_gan" in out
    assert record(sep)["status"] == "done" and (dcgan / "metrics.json").stat().st_mtime_ns == stamps[dcgan]

    # a job that fails while it runs (a data folder without classes): listed with its log,
    # not rerun unless asked
    (tmp_path / "empty").mkdir()
    bad = ["model=dcgan", "loss=gan", "dataset=lin", f"dataset.root={tmp_path / 'empty'}", "train.iterations=2"]
    failing = [*bad, "device=cpu", f"hydra.sweep.dir={tmp_path / 'bad'}"]
    code, out = multirun(capsys, "train", *failing)
    run = tmp_path / "bad" / "dataset=lin,dataset.root=empty,loss=gan,model=dcgan"
    assert code == 1 and record(run)["status"] == "failed" and f"log: {run / 'train.log'}" in out
    stamp = (run / "metrics.json").stat().st_mtime_ns
    code, out = multirun(capsys, "train", *failing)
    assert code == 1 and "launching 0 of 1 jobs" in out and "retry_failed=true" in out
    assert (run / "metrics.json").stat().st_mtime_ns == stamp
    code, out = multirun(capsys, "train", *failing, "hydra.launcher.retry_failed=true")
    assert code == 1 and "launching 1 of 1 jobs" in out and (run / "metrics.json").stat().st_mtime_ns != stamp

    # an evaluation sweep started before all its inputs exist: those jobs wait, the others run
    missing = tmp_path / "later" / "checkpoints" / "iter_0000002.pt"
    c2st = [
        f"generator={dcgan / 'checkpoints' / 'iter_0000002.pt'},{missing}", "split=0", "loss=gan", "iterations=2",
        "batch_size=8", "ndf=8", "eval_passes=1", "device=cpu", "progress=false", *TINY_DATA,
        f"dataset.splits_dir={prepared_splits}", f"hydra.sweep.dir={tmp_path / 'c2st'}",
        "hydra.sweep.subdir='${biogans.checkpoint_name:${generator}}'",
    ]  # fmt: skip
    code, out = multirun(capsys, "c2st", *c2st)
    assert code == 0, out
    assert "1 done, 1 waiting" in out and f"its input {missing} does not exist yet" in out
    assert record(tmp_path / "c2st" / "paper_dcgan_gan" / "iter_0000002", "c2st.json")["status"] == "done"
    assert not (tmp_path / "c2st" / "later").exists()

    from biogans.sweep_status import status

    text, counts = status([tmp_path])
    assert counts == {"done": 3, "failed": 1, "waiting": 1}, text
    assert f"log: {run / 'train.log'}" in text


def test_a_job_that_returns_a_failure_its_record_does_not_show_is_failed():
    """A requeued job refused by the contract (its config changed on disk) leaves the old
    record as it was and returns the refusal: the launcher reports that, not the old state."""
    from hydra_plugins.biogans_launcher._launcher import _outcome
    from hydra_plugins.biogans_launcher._plan import Job

    job = Job(num=0, overrides=[], dir=Path("x"), sweep_dir=Path("."), state="interrupted")
    _outcome(
        job, {"status": "failed", "error": "x holds a train run of another config (optimizer.lr: 0.0002 -> 0.001)"}
    )
    assert job.state == "failed" and "optimizer.lr: 0.0002 -> 0.001" in job.detail
    done = Job(num=1, overrides=[], dir=Path("y"), sweep_dir=Path("."), state="done")
    _outcome(done, {"status": "failed", "error": "late"})
    assert done.state == "done"


def test_sigusr2_writes_a_checkpoint_and_stops_a_run_outside_slurm(tmp_path):
    run = tmp_path / "run"
    args = [
        "model=dcgan",
        "loss=gan",
        *TINY,
        "train.iterations=2000",
        "train.checkpoint_every=5",
        f"hydra.run.dir={run}",
    ]
    proc = start_module("train", *args)
    last = run / "checkpoints" / "last.pt"
    import time

    deadline = time.time() + 120
    while not last.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert last.exists(), proc.stderr.read() if proc.poll() is not None else "no checkpoint after 120 s"
    proc.send_signal(signal.SIGUSR2)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    metrics = read_metrics(run)
    assert metrics["status"] == "interrupted" and 5 <= metrics["iteration"] < 2000
    import torch

    assert torch.load(last, weights_only=False)["iteration"] == metrics["iteration"]
    assert "SIGUSR2" in (run / "train.log").read_text()
