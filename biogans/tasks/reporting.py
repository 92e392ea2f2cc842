"""The paper's tables and figures, rebuilt from the result records that runs leave on disk.

Every number comes from a record (:mod:`biogans.core.records`: ``c2st.json``,
``reconstruction.json``, training ``metrics.json`` with ``samples/iter_<N>.png``), never from
a log.  :func:`collect` searches whole trees (sweeps leave some runs failed or unfinished),
keeps what it can read and lists what it could not and the state of every run.  Each done
result becomes long-form :class:`Row` s, one per measured value (table, eval loss, generator
run, class, split or image, iteration, metric, value); every table and figure summarises
its rows through the one :func:`summarise` (a :class:`Cell` per group): Table 1 and the
baseline (real vs real) and Table 2 (conditional generators at each run's latest iteration)
as mean ± std (ddof=0) over splits, Table 3 as median ± MAD over images, Figure 8 as the
median over splits with the 10-90 % band.  A C2ST gives rows of two metrics: the paper's
score and the held-out AUC (whose row carries its p-value); Table 1, the baseline, Table 2
and Figure 8 are drawn once for each.  When one split of one setting was evaluated
twice, the newer file counts and the older is named in the notes.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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
    median_mad,
    read_record,
    write_record,
)
from biogans.tasks.report_figures import copy_panels, figure8, write_samples
from biogans.tasks.report_tables import (
    LOSS_ORDER,
    MODEL_ORDER,
    baseline_text,
    class_order,
    curves_text,
    loss_order,
    rank,
    report_markdown,
    row_minima,
    run_labels,
    table1_text,
    table2_text,
    table3_text,
    write_table,
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


# --------------------------------------------------------------------------- rows and cells
@dataclass(frozen=True)
class Row:
    """One measured value, with every field a table may group it by."""

    #: pair (Table 1), baseline, joint or conditional (fake vs real), reconstruction (Table 3)
    table: str
    value: float
    source: Path
    loss: str = ""
    set_a: str = ""
    classes_a: tuple[str, ...] = ()
    set_b: str = ""
    classes_b: tuple[str, ...] = ()
    model: str = ""
    train_loss: str = ""
    run: str = ""
    optimise: str = ""
    #: the class measured; "mean" for a C2ST's overall value (score and AUC: the mean over classes)
    klass: str = "mean"
    #: C2ST: the split; reconstruction: the image's index
    split: int = 0
    iteration: int | None = None
    #: C2ST: score or auc; reconstruction: l2, nll, nll_init, neighbour_l2
    metric: str = "score"
    #: an AUC's p-value (biogans.core.two_sample_stats)
    p_value: float | None = None


@dataclass(frozen=True)
class Cell:
    """The values of one group of rows (ordered by split), and their summaries."""

    splits: tuple[int, ...]
    values: tuple[float, ...]
    sources: tuple[Path, ...] = ()
    #: AUC cells: the p-value of each value
    p_values: tuple[float, ...] = ()

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values else math.nan

    @property
    def std(self) -> float:
        """Population standard deviation (ddof=0), as numpy gives by default."""
        return float(np.std(self.values)) if self.values else math.nan

    @property
    def median(self) -> float:
        return median_mad(self.values)[0] if self.values else math.nan

    @property
    def mad(self) -> float:
        return median_mad(self.values)[1] if self.values else math.nan

    def percentile(self, q: float) -> float:
        """Linear-interpolated percentile (numpy's default)."""
        return float(np.percentile(self.values, q)) if self.values else math.nan

    def significant(self, level: float) -> int:
        """How many of the values have a p-value below ``level`` (AUCs: the splits that found a difference)."""
        return sum(p < level for p in self.p_values)


def summarise(rows: Iterable[Row], by: Sequence[str]) -> dict[tuple[Any, ...], Cell]:
    """The one grouping path: rows grouped by their fields ``by``, each group as a :class:`Cell`."""
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for r in rows:
        groups.setdefault(tuple(getattr(r, k) for k in by), []).append(r)
    out = {}
    for key, members in groups.items():
        members.sort(key=lambda r: (r.split, str(r.source)))
        values, ps = tuple(r.value for r in members), tuple(r.p_value for r in members if r.p_value is not None)
        out[key] = Cell(tuple(r.split for r in members), values, tuple(dict.fromkeys(r.source for r in members)), ps)
    return out


def pick(rows: Iterable[Row], **where: Any) -> list[Row]:
    return [r for r in rows if all(getattr(r, k) == v for k, v in where.items())]


def c2st_values(rec: C2STRecord) -> list[dict[str, Any]]:
    """The values of a C2ST record as Row fields: its score and AUC (with its p-value), overall
    (class "mean") and per class; no AUC in a record written before they were recorded."""
    scores = {"mean": float(rec.score or 0), **(rec.per_class or {})}
    seps = {**({"mean": rec.separation} if rec.separation else {}), **(rec.per_class_separation or {})}
    return [{"klass": c, "value": v} for c, v in scores.items()] + [
        {"klass": c, "value": s.auc, "metric": "auc", "p_value": s.p_value} for c, s in seps.items()
    ]


def rows_of(item: Found) -> list[Row]:
    """The long-form rows of one done C2ST or reconstruction record."""
    rec, src = item.record, item.path
    if isinstance(rec, C2STRecord) and rec.a is not None and rec.b is not None:  # real vs real
        table = "pair" if len(rec.a.classes) == 1 and len(rec.b.classes) == 1 else "baseline"
        return [Row(table, source=src, loss=str(rec.loss), set_a=rec.a.set, classes_a=tuple(rec.a.classes),
                    set_b=rec.b.set, classes_b=tuple(rec.b.classes), split=int(rec.split or 0), **v)
                for v in c2st_values(rec)]  # fmt: skip
    assert isinstance(rec, (C2STRecord, ReconstructionRecord)) and rec.generator is not None
    g = rec.generator
    who = {"model": g.model or g.kind or "?", "train_loss": g.train_loss or "?", "iteration": g.iteration}
    if isinstance(rec, C2STRecord):  # fake vs real
        table = "joint" if rec.per_class is None else "conditional"
        common = {**who, "loss": str(rec.loss), "run": g.run_dir or g.path or str(src.parent), "split": rec.split}
        return [Row(table, source=src, **common, **v) for v in c2st_values(rec)]
    common = {**who, "run": g.run_dir or g.path or "?", "optimise": rec.optimise}
    return [
        Row("reconstruction", float(value), src, klass=im.class_, split=i, metric=metric, **common)
        for i, im in enumerate(rec.images) for metric in ("l2", "nll", "nll_init", "neighbour_l2")
        if (value := getattr(im, metric)) is not None  # null in the file: no finite value
    ]  # fmt: skip


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


def _mixed_settings(found: Collected, sources: Iterable[Path]) -> list[str]:
    """A note per critic setting that differs between the C2ST results behind one table."""
    wanted = set(sources)
    records = [f.record for f in found.c2st if f.path in wanted]
    out = []
    for name in ("iterations", "batch_size", "ndf", "eval_passes"):
        values = sorted({str(getattr(r, name)) for r in records})
        if len(values) > 1:
            out.append(f"the critics differ in {name}: {', '.join(values)}")
    return out


# --------------------------------------------------------------------------- tables and curves
@dataclass
class Line:
    """One generator run in Table 2 or 3 (cells per class, or per class and metric), or one
    Figure 8 curve (cells per iteration)."""

    model: str
    train_loss: str
    run: str
    label: str
    iteration: int | None
    cells: dict[Any, Cell]
    optimise: str = ""
    other_iterations: list[int] = field(default_factory=list)
    #: Table 3: the result shown, those it replaced, and its panel images
    source: Path | None = None
    superseded: list[Path] = field(default_factory=list)
    panels: dict[str, Path] = field(default_factory=dict)


@dataclass
class Table:
    """One table: the numbers (cells or lines) and their notes.  Table 1 fills ``cells``
    ((class A, class B) -> Cell), ``row_min`` and ``missing``; Tables 2 and 3 fill ``rows``."""

    name: str
    loss: str
    classes: list[str]
    notes: list[str]
    sources: list[Path]
    rows: list[Line] = field(default_factory=list)
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    row_min: dict[str, str] = field(default_factory=dict)
    missing: list[tuple[str, str]] = field(default_factory=list)
    sets: tuple[str, str] = ("train", "test")
    #: C2ST tables: what the cells hold, "score" or "auc"
    metric: str = "score"


#: table and file names: table1_wgangp for the score, table1_wgangp_auc for the AUC
_SUFFIX = {"score": "", "auc": "_auc"}


def table1(
    found: Collected, loss: str = "wgangp", sets: tuple[str, str] = ("train", "test"), metric: str = "score"
) -> Table | None:
    """The class-pair grid of ``metric`` for one eval loss and one pair of sets (class A from ``sets[0]``)."""
    rows = pick(found.rows, table="pair", loss=loss, set_a=sets[0], set_b=sets[1], metric=metric)
    if not rows:
        return None
    classes = class_order(c for r in rows for c in (*r.classes_a, *r.classes_b))
    cells = {(a[0], b[0]): cell for (a, b), cell in summarise(rows, ("classes_a", "classes_b")).items()}
    sources = [r.source for r in rows]
    name = f"table1_{loss}" + ("" if sets == ("train", "test") else f"_{sets[0]}-{sets[1]}") + _SUFFIX[metric]
    return Table(name, loss, classes, _mixed_settings(found, sources), sources, cells=cells, sets=sets,
                 row_min=row_minima(cells, classes, classes),
                 missing=[(a, b) for a in classes for b in classes if (a, b) not in cells], metric=metric)  # fmt: skip


def table1_all(found: Collected, losses: Sequence[str] | None = None, metric: str = "score") -> list[Table]:
    """Every Table 1 of ``metric`` present: one per eval loss and pair of sets (train/test first)."""
    rows = [r for r in pick(found.rows, table="pair", metric=metric) if losses is None or r.loss in losses]
    combos = sorted({(r.set_a, r.set_b) for r in rows}, key=lambda s: (s != ("train", "test"), s))
    return [t for loss in loss_order(r.loss for r in rows) for s in combos if (t := table1(found, loss, s, metric))]


def baseline(
    found: Collected, losses: Sequence[str] | None = None, metric: str = "score"
) -> dict[tuple[Any, ...], Cell]:
    """Every multi-class real-vs-real setting ((loss, set a, classes a, set b, classes b) -> Cell of
    ``metric``), by loss, then the most classes first."""
    rows = [r for r in pick(found.rows, table="baseline", metric=metric) if losses is None or r.loss in losses]
    cells = summarise(rows, ("loss", "set_a", "classes_a", "set_b", "classes_b"))
    ranks = {loss: i for i, loss in enumerate(loss_order(k[0] for k in cells))}
    return dict(sorted(cells.items(), key=lambda kv: (ranks[kv[0][0]], -len({*kv[0][2], *kv[0][4]}), kv[0][1])))


def _by_run(rows: Iterable[Row]) -> dict[tuple[str, str, str], list[Row]]:
    """Rows per generator run (model, training loss, run), in display order."""
    groups: dict[tuple[str, str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.model, r.train_loss, r.run), []).append(r)
    return dict(sorted(groups.items(), key=lambda kv: (rank(MODEL_ORDER, kv[0][0]), rank(LOSS_ORDER, kv[0][1]), kv[0])))


def _it(iteration: int | None) -> int:
    return -1 if iteration is None else iteration


def table2(found: Collected, loss: str, metric: str = "score") -> Table | None:
    """``metric`` of the conditional generators judged with eval loss ``loss``, each at its latest iteration."""
    groups = _by_run(pick(found.rows, table="conditional", loss=loss, metric=metric))
    labels, lines, notes = run_labels(list(groups)), [], []
    for key, rows in groups.items():
        latest = max((r.iteration for r in rows), key=_it)
        cells = {k[0]: c for k, c in summarise(pick(rows, iteration=latest), ("klass",)).items()}
        others = sorted({_it(r.iteration) for r in rows} - {_it(latest)})
        lines.append(Line(*key, labels[key], latest, cells, other_iterations=others))
        if others:
            notes.append(f"{labels[key]}: iteration {latest} shown; also evaluated at {', '.join(map(str, others))}")
    if not lines:
        return None
    sources = [s for line in lines for c in line.cells.values() for s in c.sources]
    classes = class_order(c for line in lines for c in line.cells if c != "mean")
    return Table(f"table2_{loss}{_SUFFIX[metric]}", loss, classes, notes + _mixed_settings(found, sources), sources,
                 lines, metric=metric)  # fmt: skip


def table2_all(found: Collected, losses: Sequence[str] | None = None, metric: str = "score") -> list[Table]:
    present = loss_order(r.loss for r in pick(found.rows, table="conditional", metric=metric))
    return [t for loss in present if (losses is None or loss in losses) and (t := table2(found, loss, metric))]


def table3(found: Collected) -> Table | None:
    """Reconstruction per (model, training loss, optimisation, run): the latest result of each."""
    results: dict[tuple[str, str, str, str], list[Found]] = {}
    for item in found.reconstruction:
        g = item.record.generator
        key = (g.model or g.kind or "?", g.train_loss or "?", item.record.optimise, g.run_dir or g.path or "?")
        results.setdefault(key, []).append(item)
    if not results:
        return None
    order = sorted(results, key=lambda k: (rank(MODEL_ORDER, k[0]), rank(LOSS_ORDER, k[1]), k[2] != "joint", k))
    labels = run_labels([(k[0], k[1], k[3]) for k in order])
    lines, notes = [], []
    for key in order:
        items = sorted(results[key], key=lambda f: (_it(f.record.generator.iteration), f.mtime, str(f.path)))
        use, label, iteration = items[-1], labels[(key[0], key[1], key[3])], items[-1].record.generator.iteration
        rows = pick(found.rows, source=use.path)
        cells = summarise(rows, ("klass", "metric"))
        cells.update({("overall", *k): c for k, c in summarise(rows, ("metric",)).items()})
        panels = {c: use.run_dir / p for c, p in use.record.panels.items()}
        lines.append(Line(*key[:2], key[3], label, iteration, cells, key[2], source=use.path,
                          superseded=[f.path for f in items[:-1]], panels=panels))  # fmt: skip
        if len(items) > 1:
            notes.append(f"{label} ({key[2]}): {len(items)} reconstruction results share this row; the latest "
                         f"(generator iteration {iteration}, {use.path}) is shown")  # fmt: skip
    classes = class_order(c for f in found.reconstruction for c in f.record.classes)
    return Table("table3", "", classes, notes, [line.source for line in lines], lines)


def curves(
    found: Collected, conditional: bool = False, losses: Sequence[str] | None = None, metric: str = "score"
) -> dict[str, list[Line]]:
    """Per eval loss, one curve per run (its ``metric`` against its iteration), of joint generators or
    of conditional ones (their score or AUC: the mean over classes)."""
    rows = [r for r in pick(found.rows, table="conditional" if conditional else "joint", klass="mean", metric=metric)
            if r.iteration is not None and (losses is None or r.loss in losses)]  # fmt: skip
    out: dict[str, list[Line]] = {}
    for loss in loss_order(r.loss for r in rows):
        groups = _by_run(pick(rows, loss=loss))
        labels = run_labels(list(groups))
        for key, mine in groups.items():
            cells = {k[0]: c for k, c in sorted(summarise(mine, ("iteration",)).items())}
            out.setdefault(loss, []).append(Line(*key, labels[key], max(cells), cells))
    return out


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
    t1s, base, t3 = table1_all(found, losses), baseline(found, losses), table3(found)
    base_auc = baseline(found, losses, "auc")
    report.missing += [f"{t.name}: no results for {len(t.missing)} cells: {', '.join(f'{a} vs {b}' for a, b in t.missing)}"
                       for t in t1s if t.missing]  # fmt: skip
    # each table of the paper's score, then its AUC version (none from records without AUCs)
    t1s_auc, t2s = table1_all(found, losses, "auc"), table2_all(found, losses) + table2_all(found, losses, "auc")
    bases = [baseline_text(base, digits)] if base else []
    bases += [baseline_text(base_auc, digits, "auc")] if base_auc else []
    parts = [
        ("Table 1: real vs real", [table1_text(t, digits) for t in t1s + t1s_auc],
         "real-vs-real results with one class per set"),
        ("Real-vs-real baseline", bases, "real-vs-real results with several classes per set"),
        ("Table 2: fake vs real, conditional generators", [table2_text(t, digits) for t in t2s],
         "fake-vs-real results of conditional generators"),
        ("Table 3: reconstruction", [table3_text(t3, digits)] if t3 else [], "reconstruction results"),
    ]  # fmt: skip
    sections: list[str] = []
    for heading, texts, what in parts:
        sections.append(f"## {heading}\n")
        for text in texts:
            write_table(out, text)
            report.tables[text.name] = {"markdown": f"{text.name}.md", "csv": f"{text.name}.csv",
                                        "sources": sorted({str(s) for s in text.sources})}  # fmt: skip
            notes = "".join(f"- {x}\n" for x in text.notes)
            sections.append(f"{text.caption}\n\n{text.markdown}" + (f"\n{notes}" if notes else ""))
        sections += [] if texts else [f"No {what} were found.\n"]
    report.panels = copy_panels(t3.rows, out) if t3 else []
    if report.panels:
        sections.append("Panels (rows: target | reconstruction | initial reconstruction | nearest training image):\n\n"
                        + "".join(f"- {line}\n" for line in report.panels))  # fmt: skip

    sections.append("## Figure 8: C2ST score and AUC against generator iteration\n")
    # per loss, the baseline covering the most classes (the first)
    medians, auc_medians = ({k[0]: c for k, c in reversed(cells.items())} for cells in (base, base_auc))
    for key, conditional, what in (("figure8", False, "joint"), ("figure8_conditional", True, "conditional")):
        by_loss, auc_by_loss = curves(found, conditional, losses), curves(found, conditional, losses, "auc")
        if conditional and not any(len(c.cells) > 1 for lines in by_loss.values() for c in lines):
            continue  # a single iteration per run is Table 2 already
        if figure8(by_loss, medians, out / f"{key}.png", conditional, auc_by_loss, auc_medians) is None:
            sections.append(f"No fake-vs-real results of {what} generators were found.\n")
            continue
        report.figures[key] = f"{key}.png"
        for name, data, metric in ((key, by_loss, "score"), (f"{key}_auc", auc_by_loss, "auc")):
            if not data:
                continue  # records without AUCs
            text = curves_text(name, data, what, metric)
            write_table(out, text)
            report.tables[name] = {"csv": f"{name}.csv", "sources": sorted({str(s) for s in text.sources})}
            sections.append(text.caption)

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
