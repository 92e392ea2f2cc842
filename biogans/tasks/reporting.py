"""The paper's tables and figures, rebuilt from the result records that runs leave on disk.

Every number comes from a record (:mod:`biogans.core.records`: ``c2st.json``,
``reconstruction.json``, training ``metrics.json`` with ``samples/iter_<N>.png``), never from
a log.  :func:`collect` searches whole trees (sweeps leave some runs failed or unfinished),
keeps what it can read and lists what it could not and the state of every run; each done
result becomes long-form rows.  :func:`render_report` builds every table from those rows
(:mod:`biogans.tasks.report_tables`), draws the figures (:mod:`biogans.tasks.report_figures`)
and writes ``report.md`` and ``report.json``.  When one split of one setting was evaluated
twice, the newer file counts and the older is named in the notes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biogans.core.errors import BiogansError
from biogans.core.records import (
    RECORD_FILES,
    C2STRecord,
    Found,
    ReconstructionRecord,
    ReportRecord,
    RunState,
    TrainRecord,
    load_records,
    read_record,
    write_record,
)
from biogans.tasks.report_figures import copy_panels, figure8, write_samples
from biogans.tasks.report_tables import (
    LOSS_ORDER,
    METRICS,
    MODEL_ORDER,
    Row,
    baseline,
    curves,
    curves_table,
    rank,
    report_markdown,
    rows_of,
    run_labels,
    table1,
    table2,
    table3,
    write_text,
)

_READ = sorted(RECORD_FILES[t] for t in ("c2st", "reconstruct", "train"))
_SAMPLE_RE = re.compile(r"^iter_(\d+)\.png$")


class ReportError(BiogansError):
    """Nothing could be reported (no readable result anywhere under the paths given)."""


@dataclass
class ReportConfig:
    """The settings of ``python -m biogans.report`` (see :mod:`biogans.report`)."""

    runs: list[str]
    out: str
    title: str = "biogans evaluation report"
    losses: list[str] | None = None
    digits: int = 2


# --------------------------------------------------------------------------- collecting
@dataclass(frozen=True)
class TrainingRun:
    """A training run directory (``metrics.json``) and its latest sample grid."""

    run_dir: Path
    model: str
    loss: str
    status: str
    iteration: int
    sample: Path | None
    sample_iteration: int | None
    referenced: bool = False


@dataclass
class Collected:
    """Everything found under the paths given, as rows, and what could not be used."""

    roots: list[str]
    c2st: list[Found] = field(default_factory=list)
    reconstruction: list[Found] = field(default_factory=list)
    training: list[TrainingRun] = field(default_factory=list)
    #: the state of every run met (any tool, any status)
    runs: list[RunState] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    #: paths and runs that gave nothing (absent, unreadable, failed or unfinished)
    missing: list[str] = field(default_factory=list)
    #: caveats: replaced duplicates, unfinished training, mixed settings
    notes: list[str] = field(default_factory=list)


def collect(paths: Iterable[str | Path]) -> Collected:
    """Every record under ``paths`` (run directories, sweep folders, or record files), as rows.

    Unreadable files, absent paths and runs that failed or left no record go to
    ``missing``; training runs referenced by a result (``generator.run_dir``) are added
    even when outside ``paths``, for their sample grids.
    """
    found = Collected(roots=[str(p) for p in paths])
    seen: set[Path] = set()
    for raw in found.roots:
        root = Path(raw).expanduser()
        if not root.exists() or root.is_file() and root.name not in _READ:
            why = "not a run directory or a result file" if root.exists() else "no such file or folder"
            found.missing.append(f"{raw}: {why}" + (f" ({', '.join(_READ)})" if root.exists() else ""))
            continue
        scan = load_records(root, skip=seen)
        for item in scan.found:
            seen.add(item.path.resolve())
            _take(found, item)
        for state in scan.bare:
            found.runs.append(state)
            found.missing.append(f"{state.path}: a {state.tool} run without {RECORD_FILES[state.tool]} "
                                 f"(failed or unfinished; {state.detail or 'no overrides'})")  # fmt: skip
        if not scan.found and not scan.bare:
            found.missing.append(f"{raw}: no c2st.json, reconstruction.json or training metrics.json in it")
    generators = [f.record.generator for f in found.c2st + found.reconstruction]
    for run in sorted({g.run_dir for g in generators if g is not None and g.run_dir}):
        metrics = Path(run) / RECORD_FILES["train"]
        if metrics.is_file() and metrics.resolve() not in seen:
            seen.add(metrics.resolve())
            try:
                _take(found, Found(metrics, metrics.stat().st_mtime, read_record(metrics)), referenced=True)
            except BiogansError as exc:
                found.missing.append(str(exc))
    found.runs.sort(key=lambda r: r.path)
    found.c2st = _dedupe(found.c2st, found.notes)
    found.rows = [row for item in found.c2st + found.reconstruction for row in rows_of(item)]
    for run in found.training:
        if run.status != "done":
            found.notes.append(f"training run {run.run_dir} is {run.status} at iteration {run.iteration}")
        if run.sample is None:
            found.missing.append(f"{run.run_dir}: training run without samples/iter_<N>.png")
    return found


def _take(found: Collected, item: Found, referenced: bool = False) -> None:
    """File one record: its run's state always; its results if done and of a kind reported."""
    rec = item.record
    if rec is None:
        found.missing.append(f"{item.path}: {item.error}")
        return
    if isinstance(rec, ReportRecord):
        return
    state = item.state()
    found.runs.append(state)
    if isinstance(rec, TrainRecord):
        folder = item.run_dir / "samples"
        grids = [(int(m.group(1)), p) for p in (folder.iterdir() if folder.is_dir() else ())
                 if (m := _SAMPLE_RE.match(p.name)) and p.is_file()]  # fmt: skip
        it, sample = max(grids, default=(None, None))
        found.training.append(TrainingRun(item.run_dir, str(rec.model), str(rec.loss or "?"), rec.status,
                                          rec.iteration, sample, it, referenced))  # fmt: skip
    elif isinstance(rec, (C2STRecord, ReconstructionRecord)):
        if rec.status == "done":
            (found.c2st if isinstance(rec, C2STRecord) else found.reconstruction).append(item)
        else:
            why = f": {rec.error}" if rec.error else ""
            log = f" (log: {state.log})" if state.log else ""
            found.missing.append(f"{item.run_dir}: a {rec.TOOL} run that is {rec.status}{why}{log}")


def _dedupe(items: list[Found], notes: list[str]) -> list[Found]:
    """One C2ST result per (setting, split): the newest file wins, the others are noted."""
    best: dict[tuple[Any, ...], Found] = {}
    for item in sorted(items, key=lambda f: (f.mtime, str(f.path))):
        key = item.record.setting()
        if key in best:
            notes.append(f"{best[key].path} is superseded by the newer {item.path} (same setting and split)")
        best[key] = item
    return sorted(best.values(), key=lambda f: str(f.path))


# --------------------------------------------------------------------------- the report
def render_report(
    paths: Iterable[str | Path],
    out: str | Path,
    title: str = "biogans evaluation report",
    losses: Sequence[str] | None = None,
    digits: int = 2,
) -> ReportRecord:
    """Collect the records under ``paths`` and write every table and figure into ``out``.

    Returns the ``report.json`` record.  Raises :class:`ReportError` when nothing at all was
    found (no report is written then); anything less is listed in the report, not fatal.
    """
    found = collect(paths)
    if not (found.c2st or found.reconstruction or found.training):
        raise ReportError(
            f"no results found under {', '.join(found.roots) or '(no paths)'}: "
            f"{'; '.join(found.missing) or 'nothing under them'}. "
            "Give run directories (or folders above them) holding c2st.json, reconstruction.json or metrics.json."
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    losses = list(losses) if losses else None
    used = {"c2st": [str(f.path) for f in found.c2st], "reconstruction": [str(f.path) for f in found.reconstruction]}
    report = ReportRecord(
        "done", {"runs": found.roots, "out": str(out), "title": title, "losses": losses, "digits": digits},
        title=title, created=time.strftime("%Y-%m-%d %H:%M:%S"), out=str(out.resolve()), roots=found.roots,
        found={**used, "training": [str(r.run_dir) for r in found.training]}, missing=list(found.missing),
        notes=list(found.notes), runs=found.runs,
    )  # fmt: skip
    t1, base, t2 = ({m: build(found, losses, m, digits) for m in METRICS} for build in (table1, baseline, table2))
    t3 = table3(found, digits)
    report.missing += [f"{t.name}: no results for {len(t.missing)} cells: {', '.join(f'{a} vs {b}' for a, b in t.missing)}"
                       for t in t1["score"] if t.missing]  # fmt: skip
    # each table of the paper's score, then its AUC version (none from records without AUCs)
    parts = [
        ("Table 1: real vs real", t1["score"] + t1["auc"], "real-vs-real results with one class per set"),
        ("Real-vs-real baseline", base["score"] + base["auc"], "real-vs-real results with several classes per set"),
        ("Table 2: fake vs real, conditional generators", t2["score"] + t2["auc"],
         "fake-vs-real results of conditional generators"),
        ("Table 3: reconstruction", t3, "reconstruction results"),
    ]  # fmt: skip
    sections: list[str] = []
    for heading, tables, what in parts:
        sections.append(f"## {heading}\n")
        for t in tables:
            report.tables[t.name] = t.write(out)
            sections.append(t.section())
        sections += [] if tables else [f"No {what} were found.\n"]
    report.panels = copy_panels(t3[0].lines, out) if t3 else []
    if report.panels:
        sections.append("Panels (rows: target | reconstruction | initial reconstruction | nearest training image):\n\n"
                        + "".join(f"- {line}\n" for line in report.panels))  # fmt: skip

    sections.append("## Figure 8: C2ST score and AUC against generator iteration\n")
    # per loss, the baseline covering the most classes (the first)
    medians = {m: {k[0]: c for t in base[m] for k, c in reversed(t.cells.items())} for m in METRICS}
    for key, conditional, what in (("figure8", False, "joint"), ("figure8_conditional", True, "conditional")):
        by_metric = {m: curves(found, conditional, losses, m) for m in METRICS}
        if conditional and not any(len(c.cells) > 1 for lines in by_metric["score"].values() for c in lines):
            continue  # a single iteration per run is Table 2 already
        if figure8(by_metric["score"], medians["score"], out / f"{key}.png", conditional, by_metric["auc"],
                   medians["auc"]) is None:  # fmt: skip
            sections.append(f"No fake-vs-real results of {what} generators were found.\n")
            continue
        report.figures[key] = f"{key}.png"
        for metric, data in by_metric.items():
            if data:  # none of the AUC from records without AUCs
                t = curves_table(f"{key}{METRICS[metric]}", data, what, metric)
                report.tables[t.name] = t.write(out)
                sections.append(t.section())

    sections.append("## Samples of the training runs\n")
    runs = sorted(found.training, key=lambda r: (rank(MODEL_ORDER, r.model), rank(LOSS_ORDER, r.loss), str(r.run_dir)))
    labels = run_labels([(r.model, r.loss, str(r.run_dir)) for r in runs])
    report.samples, drawn = write_samples([(labels[(r.model, r.loss, str(r.run_dir))], r) for r in runs], out)
    report.figures.update({"samples": "samples.png"} if drawn else {})
    sections.append("![latest samples](samples.png)\n\n" + "".join(f"- {s}\n" for s in report.samples)
                    if report.samples else "No training runs with sample grids were found.\n")  # fmt: skip
    write_text(out / "report.md", report_markdown(report, sections))
    write_record(out, report)
    return report


def run(cfg: ReportConfig, run_dir: Path) -> ReportRecord:
    """The task's entry (see :mod:`biogans.tasks.contract`): the report of ``cfg.runs`` into ``run_dir``."""
    return render_report(cfg.runs, run_dir, title=cfg.title, losses=cfg.losses, digits=cfg.digits)


def summary_line(report: ReportRecord) -> str:
    """The one line the command prints."""
    n_tables = sum(1 for t in report.tables.values() if "markdown" in t)
    return (
        f"report: {n_tables} tables, {len(report.figures)} figures from {len(report.found['c2st'])} C2ST, "
        f"{len(report.found['reconstruction'])} reconstruction results and {len(report.found['training'])} training "
        f"runs; {len(report.missing)} missing -> {Path(str(report.out)) / 'report.md'}"
    )
