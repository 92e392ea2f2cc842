"""``python -m biogans.report``: the paper's tables and figures from the records runs leave.

End to end: tiny training runs, C2ST sweeps and reconstructions made with the real tasks
(in-process, through the task contract; one real multirun sweep with failing jobs), one
report rendered over all of them through the command line's ``main``, and its tables read
back and checked against numbers computed here, independently, from the result JSON files.
Then the aggregation itself on hand-made records, and the command line.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import os
import re
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import TINY, TINY_DATA, run_module, typed

from biogans.core.records import ImageReconstruction
from biogans.report import main, parse_args
from biogans.tasks.contract import run_task
from biogans.tasks.reconstruction import summarise
from biogans.tasks.report_tables import Cell, class_order, row_minima, table1, table2, table3
from biogans.tasks.reporting import ReportError, collect, render_report

#: a critic of the smallest useful size: the numbers matter here, not their quality
C2ST_TINY = ["iterations=5", "batch_size=8", "ndf=16", "eval_passes=1", "progress=false", "device=cpu", *TINY_DATA]
SIX = ["Alp14", "Arp3", "Cki2", "Mkh1", "Sid2", "Tea1"]


# --------------------------------------------------------------------------- independent arithmetic
def pct(values: list[float], q: float) -> float:
    """Linear-interpolation percentile, written out (the report uses numpy's)."""
    xs = sorted(values)
    rank = q / 100 * (len(xs) - 1)
    lo = math.floor(rank)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (rank - lo)


def fmt(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f} ± {statistics.pstdev(values):.2f} ({len(values)})"


def results(root: Path, name: str) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob(name))]


def missing_section(report_md: str) -> str:
    return report_md.split("## Missing", 1)[1].split("\n## ", 1)[0]


_INT_COLUMNS = {"n", "iteration", "row_min", "n_significant"}
_TEXT_COLUMNS = {"loss", "eval_loss", "set_a", "set_b", "class_a", "class_b", "classes_a", "classes_b", "model",
                 "train_loss", "run", "class", "optimise", "splits", "source"}  # fmt: skip


def read_table_csv(path: Path) -> list[dict[str, Any]]:
    """A report CSV as dicts: numeric columns as numbers, empty cells as ``None``."""
    with open(path, newline="") as f:
        return [
            {k: None if v == "" else v if k in _TEXT_COLUMNS else int(v) if k in _INT_COLUMNS else float(v)
             for k, v in row.items()}
            for row in csv.DictReader(f)
        ]  # fmt: skip


def read_markdown_table(text: str) -> list[list[str]]:
    """The rows (header first) of the first Markdown table in ``text``, cells stripped."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(set(c) <= {"-", ":"} and c for c in cells):
                rows.append(cells)
        elif rows:
            break
    return rows


def run_main(*argv: str) -> tuple[int, str, str]:
    """``python -m biogans.report argv...`` in-process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


# --------------------------------------------------------------------------- the runs
@pytest.fixture(scope="module")
def report_runs(tmp_path_factory, prepared_splits) -> Iterator[dict[str, Any]]:
    """Two tiny trainings, C2ST results for every table and figure, two reconstructions, one report.

    Table 1 gets 3 of the 4 cells of {Alp14, Arp3} (one left missing on purpose) from a real
    multirun sweep whose two jobs of an unknown class fail; the baseline two losses; Figure 8
    a joint model at two iterations judged with two losses; Table 2 a star-shaped model at
    two iterations (the later one must be shown); Table 3 joint and separable optimisation.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # torch's default two threads crawl when the other core is busy
    try:
        yield from _make_report_runs(tmp_path_factory.mktemp("report") / "runs")
    finally:
        torch.set_num_threads(threads)


def _make_report_runs(root: Path) -> Iterator[dict[str, Any]]:
    train = root / "train"
    joint, star = train / "dcgan_wgangp", train / "star_gan"
    for run, model, loss in ((joint, "dcgan", "wgangp"), (star, "star", "gan")):
        overrides = [f"model={model}", f"loss={loss}", *TINY, "train.iterations=2", "train.checkpoint_at=[1,2]"]
        run_task("train", typed("train", overrides), run)
    ckpt = [joint / "checkpoints" / f"iter_000000{i}.pt" for i in (1, 2)]
    star_ckpt = [star / "checkpoints" / f"iter_000000{i}.pt" for i in (1, 2)]
    run_module(
        "c2st", "-m", "mode=real_vs_real", "classes=[Alp14,Alp14],[Alp14,Arp3],[Arp3,Alp14],[Alp14,Nope]",
        "loss=wgangp", "split=0,1", *C2ST_TINY, f"hydra.sweep.dir={root / 'c2st' / 'pairs'}", check=False,
        env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    jobs = {
        "baseline": [(["mode=real_vs_real", "sets=[test,train]"], loss) for loss in ("wgangp", "gan")],
        "joint": [([f"generator={g}"], loss) for g in ckpt for loss in ("wgangp", "gan")],
        "conditional": [([f"generator={g}"], "wgangp") for g in star_ckpt],
    }
    for name, settings in jobs.items():
        for i, (args, loss) in enumerate(settings):
            for split in (0, 1):
                cfg = typed("c2st", [*args, f"loss={loss}", f"split={split}", *C2ST_TINY])
                run_task("c2st", cfg, root / "c2st" / name / f"{i}_{split}")
    for optimise in ("joint", "separable"):
        cfg = typed("reconstruct", [f"generator={star_ckpt[1]}", f"optimise={optimise}", "max_images_per_class=2",
                                    "trials=1", "steps=2", "max_iter=3", "batch_size=2", "progress=false",
                                    "device=cpu", *TINY_DATA])  # fmt: skip
        run_task("reconstruct", cfg, root / "reconstruct" / optimise)
    out = root.parent / "report"
    bogus = root.parent / "no_such_run"
    status, stdout, stderr = run_main(str(root), str(bogus), "--out", str(out), "--title", "tiny report")
    yield {"root": root, "out": out, "bogus": bogus, "status": status, "stdout": stdout, "stderr": stderr,
           "joint": joint, "star": star}  # fmt: skip


def test_report_writes_every_table_and_figure(report_runs):
    out = report_runs["out"]
    assert report_runs["status"] == 0
    line = report_runs["stdout"].strip().splitlines()[-1]
    assert line.startswith("report: ") and str(out / "report.md") in line
    for name in ("table1_wgangp", "baseline", "table2_wgangp", "table3"):
        assert (out / f"{name}.md").is_file() and (out / f"{name}.csv").is_file(), name
    for name in ("figure8", "figure8_conditional", "samples"):
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000, name
        from matplotlib.image import imread

        pixels = imread(str(png))
        assert pixels.shape[0] > 300 and pixels.shape[1] > 500 and float(pixels[..., :3].std()) > 0.05, name
    summary = json.loads((out / "report.json").read_text())
    assert summary["format"] == "biogans-report-v2" and summary["title"] == "tiny report"
    assert len(summary["found"]["c2st"]) == 6 + 4 + 8 + 4 and len(summary["found"]["reconstruction"]) == 2
    assert sorted(summary["found"]["training"]) == sorted(str(r) for r in (report_runs["joint"], report_runs["star"]))
    report_md = (out / "report.md").read_text()
    assert report_md.startswith("# tiny report")
    for link in ("figure8.png", "figure8_conditional.png", "samples.png"):
        assert f"]({link})" in report_md
    for name in ("table1_wgangp", "baseline", "table2_wgangp", "table3"):
        assert (out / f"{name}.md").read_text() in report_md  # every table is in the report itself
    # the sample sheets: each run's latest grid, copied
    copies = sorted(p.name for p in (out / "samples").iterdir())
    assert copies == ["dcgan_wgangp_iter_0000002.png", "star_gan_iter_0000002.png"]
    assert "dcgan/wgangp @ iteration 2" in report_md and "star/gan @ iteration 2" in report_md


def test_table1_reads_back_as_computed_from_the_json(report_runs):
    root, out = report_runs["root"], report_runs["out"]
    scores: dict[tuple[str, str], list[float]] = {}
    for r in results(root / "c2st" / "pairs", "c2st.json"):
        if r["status"] == "done":
            scores.setdefault((r["a"]["classes"][0], r["b"]["classes"][0]), []).append(r["score"])
    assert sorted(scores) == [("Alp14", "Alp14"), ("Alp14", "Arp3"), ("Arp3", "Alp14")]
    rows = read_table_csv(out / "table1_wgangp.csv")
    assert [(r["class_a"], r["class_b"]) for r in rows] == [
        ("Alp14", "Alp14"), ("Alp14", "Arp3"), ("Arp3", "Alp14"), ("Arp3", "Arp3"),
    ]  # fmt: skip
    for row in rows:
        values = scores.get((row["class_a"], row["class_b"]))
        if values is None:  # the cell left missing
            assert row["n"] == 0 and row["mean"] is None and row["std"] is None and row["row_min"] == 0
            continue
        assert row["n"] == 2 and row["splits"] == "0;1" and row["loss"] == "wgangp"
        assert row["mean"] == pytest.approx(statistics.mean(values), abs=1e-12)
        assert row["std"] == pytest.approx(statistics.pstdev(values), abs=1e-12)
    alp = {b: statistics.mean(v) for (a, b), v in scores.items() if a == "Alp14"}
    lowest = min(alp, key=alp.get)
    assert {(r["class_a"], r["class_b"]) for r in rows if r["row_min"]} == {("Alp14", lowest)}  # Arp3: one cell

    md = read_markdown_table((out / "table1_wgangp.md").read_text())
    assert md[0][1:] == ["Alp14", "Arp3"] and [r[0] for r in md[1:]] == ["Alp14", "Arp3"]
    grid = {(r[0], b): cell for r in md[1:] for b, cell in zip(md[0][1:], r[1:], strict=True)}
    assert grid[("Alp14", lowest)] == f"**{fmt(scores[('Alp14', lowest)])}**"
    assert grid[("Arp3", "Alp14")] == fmt(scores[("Arp3", "Alp14")])
    assert grid[("Arp3", "Arp3")] == "-"
    missing = missing_section((out / "report.md").read_text())
    assert "Arp3 vs Arp3" in missing


def test_baseline_and_table2_read_back(report_runs):
    root, out = report_runs["root"], report_runs["out"]
    base: dict[str, list[float]] = {}
    for r in results(root / "c2st" / "baseline", "c2st.json"):
        assert r["a"]["classes"] == SIX and r["a"]["set"] == "test"
        base.setdefault(r["loss"], []).append(r["score"])
    rows = read_table_csv(out / "baseline.csv")
    assert [r["loss"] for r in rows] == ["wgangp", "gan"]
    for row in rows:
        assert row["n"] == 2 and row["classes_a"] == ";".join(SIX) and (row["set_a"], row["set_b"]) == ("test", "train")
        assert row["mean"] == pytest.approx(statistics.mean(base[row["loss"]]), abs=1e-12)
        assert row["std"] == pytest.approx(statistics.pstdev(base[row["loss"]]), abs=1e-12)

    cond = [r for r in results(root / "c2st" / "conditional", "c2st.json") if r["generator"]["iteration"] == 2]
    assert len(cond) == 2 and all(r["generator"]["train_loss"] == "gan" for r in cond)
    rows = read_table_csv(out / "table2_wgangp.csv")
    assert [r["class"] for r in rows] == [*SIX, "mean"]
    for row in rows:
        assert (row["model"], row["train_loss"], row["iteration"], row["n"]) == ("star", "gan", 2, 2)
        values = [r["score"] if row["class"] == "mean" else r["per_class"][row["class"]] for r in cond]
        assert row["mean"] == pytest.approx(statistics.mean(values), abs=1e-12)
        assert row["std"] == pytest.approx(statistics.pstdev(values), abs=1e-12)
    md = read_markdown_table((out / "table2_wgangp.md").read_text())
    assert md[0] == ["model / train loss", "iteration", *SIX, "mean"]
    assert md[1][:2] == ["star/gan", "2"] and md[1][-1] == fmt([r["score"] for r in cond])
    assert "also evaluated at 1" in (out / "report.md").read_text()


def test_table3_reads_back_as_in_the_reconstruction_json(report_runs):
    root, out = report_runs["root"], report_runs["out"]
    recs = {r["optimise"]: r for r in results(root / "reconstruct", "reconstruction.json")}
    assert sorted(recs) == ["joint", "separable"]
    rows = read_table_csv(out / "table3.csv")
    assert [(r["optimise"], r["class"]) for r in rows] == [
        (o, c) for o in ("joint", "separable") for c in [*SIX, "overall"]
    ]
    for row in rows:
        rec = recs[row["optimise"]]
        written = rec["overall"] if row["class"] == "overall" else rec["per_class"][row["class"]]
        images = [im for im in rec["images"] if row["class"] in ("overall", im["class"])]
        assert (row["model"], row["train_loss"], row["iteration"]) == ("star", "gan", 2)
        assert row["n"] == written["n"] == len(images)
        for key in ("l2", "nll"):
            med = statistics.median(im[key] for im in images)
            mad = statistics.median(abs(im[key] - med) for im in images)
            assert row[f"{key}_median"] == pytest.approx(written[f"{key}_median"], abs=1e-12)
            assert row[f"{key}_median"] == pytest.approx(med, rel=1e-6)
            assert row[f"{key}_mad"] == pytest.approx(mad, rel=1e-6, abs=1e-9)
    md = (out / "table3.md").read_text()
    l2_table = read_markdown_table(md.split("NLL")[0])
    assert l2_table[0] == ["model / train loss", "optimise", "iteration", *SIX, "overall"]
    o = recs["joint"]["overall"]
    assert l2_table[1][:3] == ["star/gan", "joint", "2"]
    assert l2_table[1][-1] == f"{o['l2_median']:.2f} ± {o['l2_mad']:.2f}"
    # the panels of every row come along, linked from the report
    report_md = (out / "report.md").read_text()
    for optimise in ("joint", "separable"):
        for name in SIX:
            assert (out / "panels" / f"star_gan_{optimise}" / f"{name}.png").is_file()
        assert f"[Alp14](panels/star_gan_{optimise}/Alp14.png)" in report_md


def test_figure8_data_is_the_median_and_band_over_splits(report_runs):
    root, out = report_runs["root"], report_runs["out"]
    scores: dict[tuple[str, int], list[float]] = {}
    for r in results(root / "c2st" / "joint", "c2st.json"):
        scores.setdefault((r["loss"], r["generator"]["iteration"]), []).append(r["score"])
    rows = read_table_csv(out / "figure8.csv")
    assert [(r["eval_loss"], r["iteration"]) for r in rows] == [("wgangp", 1), ("wgangp", 2), ("gan", 1), ("gan", 2)]
    for row in rows:
        values = scores[(row["eval_loss"], row["iteration"])]
        assert (row["model"], row["train_loss"], row["n"]) == ("dcgan", "wgangp", 2)
        assert row["median"] == pytest.approx(statistics.median(values), abs=1e-12)
        assert row["p10"] == pytest.approx(pct(values, 10), abs=1e-12)
        assert row["p90"] == pytest.approx(pct(values, 90), abs=1e-12)
    cond = read_table_csv(out / "figure8_conditional.csv")
    assert [(r["model"], r["iteration"]) for r in cond] == [("star", 1), ("star", 2)]


def fmt_auc(values: list[float], ps: list[float]) -> str:
    return (
        f"{statistics.mean(values):.2f} ± {statistics.pstdev(values):.2f} ({sum(p < 0.01 for p in ps)}/{len(values)})"
    )


def test_auc_tables_and_figure_read_back_as_computed_from_the_json(report_runs):
    """Table 1, the baseline, Table 2 and Figure 8 again, for the held-out AUC (issue 11)."""
    root, out = report_runs["root"], report_runs["out"]
    report_md = (out / "report.md").read_text()
    for name in ("table1_wgangp_auc", "baseline_auc", "table2_wgangp_auc"):
        assert (out / f"{name}.md").read_text() in report_md, name
        caption = report_md.split((out / f"{name}.md").read_text())[0].rsplit("\n\n", 2)[-2]
        assert "AUC is the chance that the critic ranks" in caption and "p-value" in caption, (name, caption)
    # Table 1: the pairs' AUCs and p-values, per cell
    aucs: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in results(root / "c2st" / "pairs", "c2st.json"):
        if r["status"] == "done":
            sep = r["separation"]
            aucs.setdefault((r["a"]["classes"][0], r["b"]["classes"][0]), []).append((sep["auc"], sep["p_value"]))
    rows = read_table_csv(out / "table1_wgangp_auc.csv")
    assert [(r["class_a"], r["class_b"]) for r in rows] == [
        ("Alp14", "Alp14"), ("Alp14", "Arp3"), ("Arp3", "Alp14"), ("Arp3", "Arp3"),
    ]  # fmt: skip
    for row in rows:
        got = aucs.get((row["class_a"], row["class_b"]))
        if got is None:
            assert row["n"] == 0 and row["mean"] is None and row["n_significant"] == 0
            continue
        values, ps = [a for a, _ in got], [p for _, p in got]
        assert row["n"] == 2 and row["mean"] == pytest.approx(statistics.mean(values), abs=1e-12)
        assert row["std"] == pytest.approx(statistics.pstdev(values), abs=1e-12)
        assert row["n_significant"] == sum(p < 0.01 for p in ps)
    alp = {b: statistics.mean(a for a, _ in v) for (a, b), v in aucs.items() if a == "Alp14"}
    lowest = min(alp, key=alp.get)
    assert {(r["class_a"], r["class_b"]) for r in rows if r["row_min"]} == {("Alp14", lowest)}
    md = read_markdown_table((out / "table1_wgangp_auc.md").read_text())
    grid = {(r[0], b): cell for r in md[1:] for b, cell in zip(md[0][1:], r[1:], strict=True)}
    cell = aucs[("Alp14", lowest)]
    assert grid[("Alp14", lowest)] == f"**{fmt_auc([a for a, _ in cell], [p for _, p in cell])}**"
    assert grid[("Arp3", "Arp3")] == "-"
    # the baseline: one line per loss
    base: dict[str, list[tuple[float, float]]] = {}
    for r in results(root / "c2st" / "baseline", "c2st.json"):
        base.setdefault(r["loss"], []).append((r["separation"]["auc"], r["separation"]["p_value"]))
    rows = read_table_csv(out / "baseline_auc.csv")
    assert [r["loss"] for r in rows] == ["wgangp", "gan"]
    for row in rows:
        values = [a for a, _ in base[row["loss"]]]
        assert row["n"] == 2 and row["mean"] == pytest.approx(statistics.mean(values), abs=1e-12)
        assert row["n_significant"] == sum(p < 0.01 for _, p in base[row["loss"]])
    # Table 2: per class from each record's per-class statistics, 'mean' from its overall ones
    cond = [r for r in results(root / "c2st" / "conditional", "c2st.json") if r["generator"]["iteration"] == 2]
    rows = read_table_csv(out / "table2_wgangp_auc.csv")
    assert [r["class"] for r in rows] == [*SIX, "mean"]
    for row in rows:
        seps = [r["separation"] if row["class"] == "mean" else r["per_class_separation"][row["class"]] for r in cond]
        assert (row["model"], row["iteration"], row["n"]) == ("star", 2, 2)
        assert row["mean"] == pytest.approx(statistics.mean(s["auc"] for s in seps), abs=1e-12)
        assert row["n_significant"] == sum(s["p_value"] < 0.01 for s in seps)
    for r in cond:  # a run's AUC is the mean of its classes'
        assert r["separation"]["auc"] == pytest.approx(
            statistics.mean(s["auc"] for s in r["per_class_separation"].values())
        )
    # Figure 8: a second row of panels, and its data
    rows = read_table_csv(out / "figure8_auc.csv")
    joint: dict[tuple[str, int], list[float]] = {}
    for r in results(root / "c2st" / "joint", "c2st.json"):
        joint.setdefault((r["loss"], r["generator"]["iteration"]), []).append(r["separation"]["auc"])
    assert [(r["eval_loss"], r["iteration"]) for r in rows] == [("wgangp", 1), ("wgangp", 2), ("gan", 1), ("gan", 2)]
    for row in rows:
        assert row["median"] == pytest.approx(statistics.median(joint[(row["eval_loss"], row["iteration"])]))
    from matplotlib.image import imread

    assert imread(str(out / "figure8.png")).shape[0] > 800  # two rows: score, then AUC
    assert "figure8_auc.csv" in report_md and "dotted: 0.5" in report_md


def test_missing_and_failed_runs_are_listed_not_fatal(report_runs):
    out, bogus = report_runs["out"], report_runs["bogus"]
    summary = json.loads((out / "report.json").read_text())
    missing = "\n".join(summary["missing"])
    assert f"{bogus}: no such file or folder" in missing
    # the sweep's failed jobs: their records say failed, with the error and the job's log
    failed = [m for m in summary["missing"] if "a c2st run that is failed" in m]
    assert len(failed) == 2 and all("'Nope'" in m and "c2st.log" in m for m in failed)
    md = missing_section((out / "report.md").read_text())
    assert str(bogus) in md and "'Nope'" in md
    assert f"missing: {bogus}" in report_runs["stderr"]
    # every run found is listed with its state, the failed ones with their log
    states = {(r["tool"], r["status"]) for r in summary["runs"]}
    assert states == {("train", "done"), ("c2st", "done"), ("c2st", "failed"), ("reconstruct", "done")}
    assert len(summary["runs"]) == 2 + 24 + 2 and all(r["log"] for r in summary["runs"] if r["status"] == "failed")
    assert "## Runs\n\n26 done, 2 failed:" in (out / "report.md").read_text()


def test_an_empty_folder_is_exit_1_with_a_message(tmp_path):
    proc = run_module("report", str(tmp_path), "--out", str(tmp_path / "out"), check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "no results found" in proc.stderr and str(tmp_path) in proc.stderr and "c2st.json" in proc.stderr
    assert not (tmp_path / "out").exists()
    status, usage, _ = run_main("--help")
    assert status == 0 and "DIR [DIR ...]" in usage and "--out DIR" in usage
    status, _, err = run_main("x", "--colour", "red")
    assert status == 2 and "unrecognized arguments: --colour" in err
    status, _, err = run_main("x", "out=o")  # the previous command line's words get their new form
    assert status == 2 and "--out o" in err


# --------------------------------------------------------------------------- hand-made records
def c2st_dict(version: int = 2, **kw: Any) -> dict[str, Any]:
    """A ``c2st.json`` record (``version`` 1: the previous release's file); real vs real of
    ``a``/``b`` unless a generator is given."""
    data: dict[str, Any] = {
        "format": f"biogans-c2st-v{version}", "mode": "real_vs_real", "score": -1.0, "per_class": None,
        "loss": "wgangp", "split": 0, "iterations": 5, "batch_size": 8, "ndf": 16, "eval_passes": 1, "seed": 0,
        "device": "cpu", "generator": None, "a": {"set": "train", "classes": ["Alp14"]},
        "b": {"set": "test", "classes": ["Alp14"]},
    }  # fmt: skip
    if version == 2:
        data.update(status="done", config={}, error=None)
    data.update(kw)
    if data["generator"] is not None:
        data["mode"] = "fake_vs_real"
        data.pop("a"), data.pop("b")
        data["real"] = {"set": "test", "classes": list(data["per_class"] or ["Alp14", "Tea1"])}
    return data


def gen(model: str, it: int, loss: str = "wgangp", run: str = "/runs/x") -> dict[str, Any]:
    return {"path": f"{run}/checkpoints/iter_{it:07d}.pt", "model": model, "kind": "?", "iteration": it,
            "train_loss": loss, "run_dir": run}  # fmt: skip


def write(folder: Path, data: dict[str, Any], name: str = "c2st.json", mtime: float | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(data))
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def pair(a: str, b: str, split: int, score: float, loss: str = "wgangp", version: int = 2) -> dict[str, Any]:
    return c2st_dict(version, a={"set": "train", "classes": [a]}, b={"set": "test", "classes": [b]}, split=split,
                     score=score, loss=loss)  # fmt: skip


def test_cell_statistics():
    cell = Cell((0, 1, 2), (1.0, 2.0, 4.0))
    assert cell.n == 3 and cell.mean == pytest.approx(7 / 3) and cell.median == 2.0
    assert cell.std == pytest.approx(statistics.pstdev([1.0, 2.0, 4.0]))
    assert cell.percentile(10) == pytest.approx(1.2) and cell.percentile(90) == pytest.approx(3.6)
    assert math.isnan(Cell((), ()).mean)


def test_row_minimum_and_class_order():
    cells = {("A", "A"): Cell((0,), (-1.0,)), ("A", "B"): Cell((0,), (-3.0,)), ("B", "A"): Cell((0,), (-2.0,))}
    assert row_minima(cells, ["A", "B"], ["A", "B"]) == {"A": "B"}  # B's row has one cell: nothing to mark
    assert class_order(["Tea4", "Tea1", "Alp14"]) == ["Alp14", "Tea1", "Tea4"]  # the paper's order
    assert class_order(["zeta", "Alp14", "alpha"]) == ["zeta", "Alp14", "alpha"]  # found order


def test_table1_from_hand_made_results(tmp_path):
    write(tmp_path / "a", pair("Tea1", "Alp14", 0, -2.0, version=1))  # a file of the previous release counts too
    write(tmp_path / "b", pair("Tea1", "Alp14", 1, -4.0), mtime=1000)  # superseded by c
    write(tmp_path / "c", pair("Tea1", "Alp14", 1, -3.0), mtime=2000)
    write(tmp_path / "d", pair("Tea1", "Tea1", 0, -0.5))
    write(tmp_path / "e", pair("Alp14", "Tea1", 0, -1.0, loss="gan"))
    found = collect([tmp_path])
    assert any("superseded" in n and str(tmp_path / "b") in n for n in found.notes)
    t, g = table1(found)  # one table per eval loss, WGAN-GP first
    assert t.name == "table1_wgangp" and t.classes == ["Alp14", "Tea1"]
    assert t.cells[("Tea1", "Alp14")].values == (-2.0, -3.0)
    assert t.cells[("Tea1", "Alp14")].mean == -2.5 and t.cells[("Tea1", "Alp14")].std == 0.5
    # the row's minimum: bold in Markdown, row_min in the CSV; Alp14's row has a single cell, no minimum
    assert read_markdown_table(t.markdown)[1:] == [
        ["Alp14", "-", "-"],
        ["Tea1", "**-2.50 ± 0.50 (2)**", "-0.50 ± 0.00 (1)"],
    ]
    assert [(row[3], row[4], row[-1]) for row in t.csv_rows] == [
        ("Alp14", "Alp14", 0), ("Alp14", "Tea1", 0), ("Tea1", "Alp14", 1), ("Tea1", "Tea1", 0),
    ]  # fmt: skip
    assert t.missing == [("Alp14", "Alp14"), ("Alp14", "Tea1")]
    assert g.name == "table1_gan" and list(g.cells) == [("Alp14", "Tea1")]
    assert table1(found, ["wgan"]) == [] and [t.name for t in table1(found, ["gan"])] == ["table1_gan"]


def test_table2_takes_each_runs_latest_iteration(tmp_path):
    for it, base in ((100, -5.0), (1000, -1.0)):
        for split in (0, 1):
            pc = {"Alp14": base + split, "Tea1": base - split}
            write(tmp_path / f"{it}_{split}", c2st_dict(generator=gen("star", it), per_class=pc, split=split,
                                                         score=sum(pc.values()) / 2))  # fmt: skip
    write(tmp_path / "other", c2st_dict(generator=gen("star", 7, run="/runs/y"), per_class={"Alp14": 0.0, "Tea1": 0.0},
                                        score=0.0))  # fmt: skip
    (t,) = table2(collect([tmp_path]))
    assert t.name == "table2_wgangp" and t.classes == ["Alp14", "Tea1"]
    assert [(r.label, r.iteration) for r in t.lines] == [("star/wgangp (x)", 1000), ("star/wgangp (y)", 7)]
    row = t.lines[0]
    assert row.cells["Alp14"].values == (-1.0, 0.0) and row.cells["Tea1"].values == (-1.0, -2.0)
    assert row.cells["mean"].mean == -1.0 and row.other_iterations == [100]
    assert table2(collect([tmp_path]), ["gan"]) == []


def sep(auc: float, p: float) -> dict[str, Any]:
    return {"auc": auc, "p_value": p, "accuracy": auc, "n_a": 12, "n_b": 12}


def test_auc_is_one_more_metric_of_the_same_rows(tmp_path):
    """AUC rows come beside the score rows, carrying their p-values; files without them give no AUC."""
    for split, (auc, p) in enumerate(((0.9, 1e-5), (0.7, 0.02), (0.8, 0.001))):
        write(tmp_path / f"p{split}", {**pair("Tea1", "Alp14", split, -2.0 - split), "separation": sep(auc, p)})
    write(tmp_path / "old", pair("Tea1", "Tea1", 0, -0.5, version=1))  # no statistics in a previous release's file
    for split in (0, 1):
        pc = {"Alp14": 1.0 + split, "Tea1": 3.0}
        per = {"Alp14": sep((0.6, 0.7)[split], 0.5), "Tea1": sep(1.0, 1e-9)}
        write(tmp_path / f"g{split}", c2st_dict(generator=gen("star", 50), per_class=pc, split=split, score=2.0,
                                                separation=sep((0.8, 0.85)[split], 1e-8), per_class_separation=per))  # fmt: skip
    found = collect([tmp_path])
    (score,), (auc,) = table1(found), table1(found, metric="auc")
    assert auc.name == "table1_wgangp_auc" and score.name == "table1_wgangp"
    assert score.cells[("Tea1", "Alp14")].values == (-2.0, -3.0, -4.0)  # the score table is as it was
    assert ("Tea1", "Tea1") in score.cells and ("Tea1", "Tea1") not in auc.cells
    cell = auc.cells[("Tea1", "Alp14")]
    assert cell.values == (0.9, 0.7, 0.8) and cell.p_values == (1e-5, 0.02, 0.001) and cell.significant(0.01) == 2
    (t2,) = table2(found, metric="auc")
    assert t2.name == "table2_wgangp_auc"
    row = t2.lines[0]
    assert row.cells["Alp14"].values == (0.6, 0.7) and row.cells["Alp14"].significant(0.01) == 0
    assert row.cells["Tea1"].significant(0.01) == 2 and row.cells["mean"].values == (0.8, 0.85)
    assert table2(found)[0].lines[0].cells["Alp14"].values == (1.0, 2.0)
    out = render_report([tmp_path], tmp_path / "out")
    assert {"table1_wgangp_auc", "table2_wgangp_auc"} <= set(out.tables)
    md = read_markdown_table((tmp_path / "out" / "table1_wgangp_auc.md").read_text())
    assert md[2] == ["Tea1", "0.80 ± 0.08 (2/3)", "-"]


def test_table3_summarises_the_images_of_the_latest_file(tmp_path):
    images = [ImageReconstruction(c, l2=l2, nll=nll) for c, l2, nll in
              (("Alp14", 0.1, 10.0), ("Alp14", 0.3, 14.0), ("Alp14", 0.2, 11.0), ("Tea1", 0.5, 20.0))]  # fmt: skip
    per_class = {c: dataclasses.asdict(summarise([im for im in images if im.class_ == c])) for c in ("Alp14", "Tea1")}
    rec = {"format": "biogans-reconstruction-v1", "generator": gen("star", 5), "optimise": "joint",
           "classes": ["Alp14", "Tea1"], "images": [{"class": im.class_, "l2": im.l2, "nll": im.nll} for im in images],
           "per_class": per_class, "overall": dataclasses.asdict(summarise(images))}  # fmt: skip
    write(tmp_path / "old", {**rec, "generator": gen("star", 2)}, "reconstruction.json")
    write(tmp_path / "new", rec, "reconstruction.json")
    write(tmp_path / "bare", {k: v for k, v in rec.items() if k != "per_class"}, "reconstruction.json")
    collected = collect([tmp_path])
    (t,) = table3(collected)
    assert len(t.lines) == 1 and t.lines[0].iteration == 5 and len(t.lines[0].superseded) == 1
    cells = t.lines[0].cells
    l2, nll = cells[("Alp14", "l2")], cells[("Alp14", "nll")]
    got = (l2.n, l2.median, l2.mad, nll.median, nll.mad)
    assert got == pytest.approx((3, 0.2, 0.1, 11.0, 1.0))
    assert got == pytest.approx((per_class["Alp14"]["n"], *(per_class["Alp14"][k] for k in
                                 ("l2_median", "l2_mad", "nll_median", "nll_mad"))))  # fmt: skip
    assert cells[("overall", "l2")].n == 4 and "share this row" in t.notes[0]
    # values without a finite value (null in the file) are left out, not read as a number
    assert ("Alp14", "neighbour_l2") not in cells
    # a file without its summaries is listed, not half-read
    assert any(m.endswith("bare/reconstruction.json: has no 'per_class'") for m in collected.missing), collected.missing


def test_render_report_on_hand_made_results(tmp_path):
    runs = tmp_path / "runs"
    for split, score in enumerate((-3.0, -2.0, -1.0)):
        write(runs / f"j1_{split}", c2st_dict(generator=gen("dcgan", 10), split=split, score=score))
        write(runs / f"j2_{split}", c2st_dict(generator=gen("dcgan", 1000), split=split, score=score / 2))
        write(runs / f"base_{split}", c2st_dict(a={"set": "test", "classes": SIX}, b={"set": "train", "classes": SIX},
                                                split=split, score=-0.7))  # fmt: skip
    write(runs / "junk", {"format": "something else"})
    (runs / "broken").mkdir()
    (runs / "broken" / "c2st.json").write_text("{not json")
    write(runs / "running", {**c2st_dict(), "status": "running", "score": None})
    report = render_report([runs, tmp_path / "absent"], tmp_path / "out", losses=["wgangp"])
    out = tmp_path / "out"
    assert sorted(report.tables) == ["baseline", "figure8"] and sorted(report.figures) == ["figure8"]
    rows = read_table_csv(out / "figure8.csv")
    assert [(r["iteration"], r["median"], r["p10"], r["p90"]) for r in rows] == [
        (10, -2.0, pct([-3.0, -2.0, -1.0], 10), pct([-3.0, -2.0, -1.0], 90)),
        (1000, -1.0, pct([-1.5, -1.0, -0.5], 10), pct([-1.5, -1.0, -0.5], 90)),
    ]
    missing = "\n".join(report.missing)
    assert "absent: no such file or folder" in missing and "not a biogans C2ST result" in missing
    assert "broken/c2st.json: unreadable" in missing
    assert f"{runs / 'running'}: a c2st run that is running" in missing  # unfinished: listed, not counted
    md = (out / "report.md").read_text()
    assert "No real-vs-real results with one class per set" in md and "No reconstruction results" in md
    with pytest.raises(ReportError, match="no results found"):
        render_report([tmp_path / "absent"], tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_a_run_killed_before_its_record_is_listed(tmp_path):
    """A Hydra job killed before it wrote anything leaves only ``.hydra/``: named, with its overrides."""
    job = tmp_path / "sweep" / "3"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "hydra.yaml").write_text("hydra:\n  run:\n    dir: x\n  job:\n    name: c2st\n    chdir: null\n")
    (job / ".hydra" / "overrides.yaml").write_text("- split=3\n- loss=gan\n")
    (job / "c2st.log").write_text("")
    write(tmp_path / "sweep" / "0", c2st_dict())
    report = render_report([tmp_path / "sweep"], tmp_path / "out")
    assert f"{job}: a c2st run without c2st.json (failed or unfinished; split=3 loss=gan)" in report.missing
    state = next(r for r in report.runs if r.path == str(job))
    assert (state.tool, state.status, state.log) == ("c2st", "no record", str(job / "c2st.log"))


def test_command_line_words():
    args = parse_args(["a", "b", "c/d", "--out", "o", "--losses", "wgangp,gan", "--digits", "3"])
    assert args.runs == ["a", "b", "c/d"] and args.out == "o" and args.losses == ["wgangp", "gan"] and args.digits == 3
    assert parse_args(["x", "y"]).runs == ["x", "y"]
    assert parse_args(["x"]).out.startswith("outputs/report/")
    with pytest.raises(SystemExit) as exc:  # no run directory given
        parse_args(["--out", "o"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:  # an unknown loss
        parse_args(["x", "--losses", "wgangp,colour"])
    assert exc.value.code == 2
