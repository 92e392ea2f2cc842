"""The report's numbers: every done result as long-form rows, grouped into cells by the one
:func:`summarise`, laid out as the paper's tables.

A :class:`Row` is one measured value with every field a table may group it by; a
:class:`Cell` is the values of one group (ordered by split) with their summaries.  Each
table builder picks its rows, summarises them and lays them out as a :class:`Table`: a
Markdown table for reading (``digits`` decimals) and a CSV for computing (full precision,
``repr`` of floats, empty cells for missing values), rows and columns in the paper's order,
runs labelled ``model/loss``.  Table 1, the baseline and Table 2 show mean ± std (ddof=0)
over splits, Table 3 median ± MAD over images, Figure 8's data the median over splits with
the 10-90 % band.  A C2ST gives rows of two metrics, the paper's score and the held-out AUC
(whose rows carry their p-values), so every C2ST table is built once for each.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from biogans.config import PAPER_8_CLASSES
from biogans.core.files import atomic_write
from biogans.core.records import C2STRecord, Found, ReconstructionRecord, median_mad

if TYPE_CHECKING:
    from biogans.core.records import ReportRecord
    from biogans.tasks.reporting import Collected

LOSS_LABELS = {"gan": "GAN", "wgan": "WGAN", "wgangp": "WGAN-GP"}
#: display orders: WGAN-GP first (the paper's Table 1 uses it alone); joint families, then conditional ones
LOSS_ORDER = ("wgangp", "gan", "wgan")
MODEL_ORDER = ("dcgan", "sep", "star", "independent", "independent_sep", "multichannel", "multichannel_sep")
RECONSTRUCTION_METRICS = ("l2", "nll", "nll_init", "neighbour_l2")
#: the C2ST metrics, each with the suffix of its tables' names (table1_wgangp, table1_wgangp_auc)
METRICS = {"score": "", "auc": "_auc"}
#: an AUC cell counts its splits whose p-value is below this (k/n)
SIGNIFICANCE = 0.01
#: how to read an AUC table, said once per table in its caption
READ_AUC = (
    "AUC is the chance that the critic ranks a held-out image of side a above one of side b (0.5: the two cannot be "
    "told apart, 1: every image is told apart, whatever the loss), and k/n counts the splits whose p-value "
    f"(one-sided Mann-Whitney U over the held-out images, each counted once) is below {SIGNIFICANCE}, i.e. the "
    "splits where the difference is more than chance."
)


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
    """The values of one group of rows (ordered by split), and their summaries (NaN when empty)."""

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

    @property
    def p10(self) -> float:
        return self.percentile(10)

    @property
    def p90(self) -> float:
        return self.percentile(90)

    def significant(self, level: float) -> int:
        """How many of the values have a p-value below ``level`` (AUCs: the splits that found a difference)."""
        return sum(p < level for p in self.p_values)

    @property
    def n_significant(self) -> int:
        return self.significant(SIGNIFICANCE)


#: the cell of a table's empty places: n 0, summaries NaN (empty in a CSV, "-" in Markdown)
EMPTY = Cell((), ())


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
    """The rows whose fields equal ``where``; a ``losses`` list (``None``: all) filters on ``loss``."""
    losses = where.pop("losses", None)
    return [r for r in rows if all(getattr(r, k) == v for k, v in where.items()) and (not losses or r.loss in losses)]


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
        for i, im in enumerate(rec.images) for metric in RECONSTRUCTION_METRICS
        if (value := getattr(im, metric)) is not None  # null in the file: no finite value
    ]  # fmt: skip


# --------------------------------------------------------------------------- orders and labels
def class_order(seen: Iterable[str]) -> list[str]:
    """Classes in the paper's order when all are the paper's, else in the order first seen."""
    names = list(dict.fromkeys(seen))
    return [n for n in PAPER_8_CLASSES if n in names] if all(n in PAPER_8_CLASSES for n in names) else names


def loss_order(losses: Iterable[str]) -> list[str]:
    present = set(losses)
    return [x for x in LOSS_ORDER if x in present] + sorted(present - set(LOSS_ORDER))


def loss_label(loss: str) -> str:
    return LOSS_LABELS.get(loss, loss)


def rank(order: Sequence[str], name: str) -> int:
    """Position of ``name`` in a display order; unknown names after the known ones."""
    return order.index(name) if name in order else len(order)


def run_labels(keys: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
    """(model, training loss, run) -> ``model/loss``, with the run folder's name added where two
    runs would share a label."""
    runs: dict[tuple[str, str], set[str]] = {}
    for model, loss, run in keys:
        runs.setdefault((model, loss), set()).add(run)
    return {k: f"{k[0]}/{k[1]}" + (f" ({Path(k[2]).name or k[2]})" if len(runs[k[:2]]) > 1 else "") for k in keys}


def by_run(rows: Iterable[Row]) -> dict[tuple[str, str, str], list[Row]]:
    """Rows per generator run (model, training loss, run), in display order."""
    groups: dict[tuple[str, str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.model, r.train_loss, r.run), []).append(r)
    return dict(sorted(groups.items(), key=lambda kv: (rank(MODEL_ORDER, kv[0][0]), rank(LOSS_ORDER, kv[0][1]), kv[0])))


def row_minima(cells: dict[tuple[str, str], Cell], rows: Sequence[str], columns: Sequence[str]) -> dict[str, str]:
    """Per row, the column with the smallest mean (the first on ties), bold in Table 1; rows with
    fewer than two filled cells have no minimum worth marking."""
    out: dict[str, str] = {}
    for r in rows:
        filled = [(cells[(r, c)].mean, i, c) for i, c in enumerate(columns) if (r, c) in cells and cells[(r, c)].n]
        if len(filled) >= 2:
            out[r] = min(filled)[2]
    return out


def _it(iteration: int | None) -> int:
    return -1 if iteration is None else iteration


# --------------------------------------------------------------------------- text and files
def fmt(cell: Cell | None, metric: str = "score", digits: int = 2) -> str:
    """``mean ± std (n)``, for an AUC ``mean ± std (k/n)`` (k of the n splits had p < SIGNIFICANCE);
    ``-`` for an empty cell."""
    if not cell or not cell.n:
        return "-"
    count = f"{cell.n_significant}/{cell.n}" if metric == "auc" else cell.n
    return f"{cell.mean:.{digits}f} ± {cell.std:.{digits}f} ({count})"


def _bold(text: str, bold: bool) -> str:
    return f"**{text}**" if bold else text


def fmt_median_mad(cell: Cell | None, digits: int = 2) -> str:
    """``median ± MAD``; ``-`` for an empty cell."""
    return f"{cell.median:.{digits}f} ± {cell.mad:.{digits}f}" if cell and cell.n else "-"


def stat_columns(metric: str, *extra: str) -> list[str]:
    """The CSV columns of a C2ST cell: mean, std, n, ``extra``, the AUC's n_significant, splits."""
    return ["mean", "std", "n", *extra, *(["n_significant"] if metric == "auc" else []), "splits"]


def stats(cell: Cell | None, columns: Sequence[str]) -> list[Any]:
    """A cell's summaries for a CSV row, by their column names (an empty cell for a missing one)."""
    return [getattr(cell or EMPTY, k) for k in columns]


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(r) for r in rows)]) + "\n"


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def _csv_value(value: Any) -> Any:
    """Floats at full precision (``repr``), NaN and None empty, tuples (classes, splits) joined by ``;``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, tuple):
        return ";".join(map(str, value))
    return repr(float(value)) if isinstance(value, float) else value


@dataclass
class Line:
    """One generator run in Table 2 or 3 (cells per class, or per (class, metric)), or one
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
    """One table as written: ``<name>.md`` (unless ``markdown`` is empty: a figure's data) and
    ``<name>.csv``, with the numbers behind them: Table 1 and the baseline their ``cells``,
    Tables 2 and 3 and Figure 8 their ``lines``."""

    name: str
    caption: str
    markdown: str
    csv_header: list[str]
    csv_rows: list[list[Any]]
    sources: list[Path]
    notes: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    cells: dict[Any, Cell] = field(default_factory=dict)
    lines: list[Line] = field(default_factory=list)
    #: Table 1: the (class A, class B) pairs without a result
    missing: list[tuple[str, str]] = field(default_factory=list)

    def write(self, out: Path) -> dict[str, Any]:
        """Write the files into ``out``; their entry in ``report.json``."""
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([self.csv_header, *([_csv_value(v) for v in row]
                                                                            for row in self.csv_rows)])  # fmt: skip
        write_text(out / f"{self.name}.csv", buf.getvalue())
        if self.markdown:
            write_text(out / f"{self.name}.md", self.markdown)
        files = {"markdown": f"{self.name}.md"} if self.markdown else {}
        return {**files, "csv": f"{self.name}.csv", "sources": sorted({str(s) for s in self.sources})}

    def section(self) -> str:
        """The table in ``report.md``: caption, table, notes."""
        notes = "".join(f"- {x}\n" for x in self.notes)
        return f"{self.caption}\n\n{self.markdown}" + (f"\n{notes}" if notes else "") if self.markdown else self.caption


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


# --------------------------------------------------------------------------- the tables
def table1(
    found: Collected, losses: Sequence[str] | None = None, metric: str = "score", digits: int = 2
) -> list[Table]:
    """Real vs real, one class per side: a class-pair grid of ``metric`` per eval loss and pair of
    sets (train/test first), class A (from the first set) down, class B across, the row's minimum bold."""
    rows = pick(found.rows, table="pair", metric=metric, losses=losses)
    combos = sorted({(r.set_a, r.set_b) for r in rows}, key=lambda s: (s != ("train", "test"), s))
    tables = []
    for loss in loss_order(r.loss for r in rows):
        for set_a, set_b in combos:
            if not (mine := pick(rows, loss=loss, set_a=set_a, set_b=set_b)):
                continue
            classes = class_order(c for r in mine for c in (*r.classes_a, *r.classes_b))
            cells = {(a[0], b[0]): c for (a, b), c in summarise(mine, ("classes_a", "classes_b")).items()}
            low = row_minima(cells, classes, classes)
            grid = [[a, *(_bold(fmt(cells.get((a, b)), metric, digits), low.get(a) == b) for b in classes)]
                    for a in classes]  # fmt: skip
            csv_rows = [[loss, set_a, set_b, a, b, *stats(cells.get((a, b)), stat_columns(metric)),
                         int(low.get(a) == b)] for a in classes for b in classes]  # fmt: skip
            missing = [(a, b) for a in classes for b in classes if (a, b) not in cells]
            sets = "" if (set_a, set_b) == ("train", "test") else f"_{set_a}-{set_b}"
            what = "held-out AUC, mean ± std over splits (k/n)" if metric == "auc" else "mean ± std over splits (n)"
            caption = (f"Table 1{', AUC' if metric == 'auc' else ''} ({loss_label(loss)} critic): real vs real, class "
                       f"A from the {set_a} set's splits against class B from the {set_b} set's splits; {what}; bold: "
                       "the row's minimum." + (f" {READ_AUC}" if metric == "auc" else ""))  # fmt: skip
            notes = _mixed_settings(found, [r.source for r in mine])
            notes += [f"missing cells (-): {', '.join(f'{a} vs {b}' for a, b in missing)}"] if missing else []
            tables.append(Table(
                f"table1_{loss}{sets}{METRICS[metric]}", caption,
                markdown_table([f"A ({set_a}) \\ B ({set_b})", *classes], grid),
                ["loss", "set_a", "set_b", "class_a", "class_b", *stat_columns(metric), "row_min"], csv_rows,
                [r.source for r in mine], notes, classes, cells, missing=missing,
            ))  # fmt: skip
    return tables


def baseline(
    found: Collected, losses: Sequence[str] | None = None, metric: str = "score", digits: int = 2
) -> list[Table]:
    """Real vs real, several classes per side: a line per (loss, set a, classes a, set b, classes b),
    by loss, then the most classes first."""
    keys = ("loss", "set_a", "classes_a", "set_b", "classes_b")
    cells = summarise(pick(found.rows, table="baseline", metric=metric, losses=losses), keys)
    if not cells:
        return []
    ranks = {loss: i for i, loss in enumerate(loss_order(k[0] for k in cells))}
    cells = dict(sorted(cells.items(), key=lambda kv: (ranks[kv[0][0]], -len({*kv[0][2], *kv[0][4]}), kv[0][1])))
    md = [[loss_label(k[0]), k[1], ", ".join(k[2]), k[3], ", ".join(k[4]), fmt(c, metric, digits)]
          for k, c in cells.items()]  # fmt: skip
    columns = stat_columns(metric, "median")
    caption = (
        "Real-vs-real baseline, AUC: several classes in each set; held-out AUC, mean ± std over splits (k/n); the "
        f"paper's setting (6 classes, a = test, b = train) should be near 0.5. {READ_AUC}"
        if metric == "auc"
        else "Real-vs-real baseline: several classes in each set; mean ± std over splits (n). "
        "The paper (6 classes, a = test, b = train): GAN -3.71 ± 0.72, WGAN 0.00 ± 0.00, WGAN-GP -0.73 ± 0.64."
    )
    count = "k/n" if metric == "auc" else "n"
    return [Table(
        f"baseline{METRICS[metric]}", caption,
        markdown_table(["eval loss", "set a", "classes a", "set b", "classes b", f"mean ± std ({count})"], md),
        [*keys, *columns], [[*k, *stats(c, columns)] for k, c in cells.items()],
        [s for c in cells.values() for s in c.sources], cells=cells,
    )]  # fmt: skip


def table2(
    found: Collected, losses: Sequence[str] | None = None, metric: str = "score", digits: int = 2
) -> list[Table]:
    """Fake vs real per class for the conditional generators, a table per eval loss: a line per run
    at its latest evaluated iteration, a column per class and the run's mean."""
    everything, tables = pick(found.rows, table="conditional", metric=metric, losses=losses), []
    for loss in loss_order(r.loss for r in everything):
        groups = by_run(pick(everything, loss=loss))
        labels, lines, notes = run_labels(list(groups)), [], []
        for key, rows in groups.items():
            latest = max((r.iteration for r in rows), key=_it)
            cells = {k[0]: c for k, c in summarise(pick(rows, iteration=latest), ("klass",)).items()}
            others = sorted({_it(r.iteration) for r in rows} - {_it(latest)})
            lines.append(Line(*key, labels[key], latest, cells, other_iterations=others))
            if others:
                notes.append(
                    f"{labels[key]}: iteration {latest} shown; also evaluated at {', '.join(map(str, others))}"
                )
        sources = [s for line in lines for c in line.cells.values() for s in c.sources]
        classes = class_order(c for line in lines for c in line.cells if c != "mean")
        columns = [*classes, "mean"]
        md = [[r.label, str(r.iteration), *(fmt(r.cells.get(c), metric, digits) for c in columns)] for r in lines]
        csv_rows = [[loss, r.model, r.train_loss, r.run, r.iteration, c, *stats(r.cells.get(c), stat_columns(metric))]
                    for r in lines for c in columns]  # fmt: skip
        caption = (
            f"Table 2, AUC ({loss_label(loss)} critic): fake vs real per class for conditional generators at their "
            "latest evaluated iteration; held-out AUC, mean ± std over splits (k/n); 'mean' is the run's AUC, the "
            f"mean over classes, with Fisher's combination of the classes' p-values. {READ_AUC}"
            if metric == "auc"
            else f"Table 2 ({loss_label(loss)} critic): fake vs real per class for conditional generators at their "
            "latest evaluated iteration; mean ± std over splits (n); 'mean' is the run's score, the mean over classes."
        )
        tables.append(Table(
            f"table2_{loss}{METRICS[metric]}", caption,
            markdown_table(["model / train loss", "iteration", *columns], md),
            ["eval_loss", "model", "train_loss", "run", "iteration", "class", *stat_columns(metric)], csv_rows,
            sources, notes + _mixed_settings(found, sources), classes, lines=lines,
        ))  # fmt: skip
    return tables


def table3(found: Collected, digits: int = 2) -> list[Table]:
    """Reconstruction per (model, training loss, optimisation, run), the latest result of each: two
    grids (L2, NLL: a column per class and overall, median ± MAD over images) and one CSV."""
    results: dict[tuple[str, str, str, str], list[Found]] = {}
    for item in found.reconstruction:
        g = item.record.generator
        key = (g.model or g.kind or "?", g.train_loss or "?", item.record.optimise, g.run_dir or g.path or "?")
        results.setdefault(key, []).append(item)
    if not results:
        return []
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
    columns, parts = [*classes, "overall"], []
    for key, title in (("l2", "L2 error"), ("nll", "NLL of the latent")):
        md = [[r.label, r.optimise, str(r.iteration), *(fmt_median_mad(r.cells.get((c, key)), digits) for c in columns)]
              for r in lines]  # fmt: skip
        parts.append(f"{title}, median ± MAD:\n\n" + markdown_table(["model / train loss", "optimise", "iteration",
                                                                     *columns], md))  # fmt: skip
    wanted = (("l2", "n"), ("l2", "median"), ("l2", "mad"), ("nll", "median"), ("nll", "mad"),
              ("nll_init", "median"), ("neighbour_l2", "median"))  # fmt: skip
    return [Table(
        "table3",
        "Table 3: reconstruction of the test images through the latent space, per class and overall; "
        "median ± MAD over images of the L2 error ([0, 1] pixels) and of the latent's negative log-likelihood.",
        "\n".join(parts),
        ["model", "train_loss", "optimise", "run", "iteration", "class", "n", "l2_median", "l2_mad", "nll_median",
         "nll_mad", "nll_init_median", "neighbour_l2_median", "source"],
        [[r.model, r.train_loss, r.optimise, r.run, r.iteration, c,
          *(getattr(r.cells.get((c, m), EMPTY), s) for m, s in wanted), str(r.source)] for r in lines for c in columns],
        [line.source for line in lines], notes, classes, lines=lines,
    )]  # fmt: skip


def curves(found: Collected, conditional: bool, losses: Sequence[str] | None, metric: str) -> dict[str, list[Line]]:
    """Per eval loss, one curve per run (its ``metric`` against its iteration), of joint generators or
    of conditional ones (their score or AUC: the mean over classes)."""
    kind = "conditional" if conditional else "joint"
    rows = [
        r for r in pick(found.rows, table=kind, klass="mean", metric=metric, losses=losses) if r.iteration is not None
    ]
    out: dict[str, list[Line]] = {}
    for loss in loss_order(r.loss for r in rows):
        groups = by_run(pick(rows, loss=loss))
        labels = run_labels(list(groups))
        for key, mine in groups.items():
            cells = {k[0]: c for k, c in sorted(summarise(mine, ("iteration",)).items())}
            out.setdefault(loss, []).append(Line(*key, labels[key], max(cells), cells))
    return out


def curves_table(name: str, by_loss: dict[str, list[Line]], what: str, metric: str = "score") -> Table:
    """The data of a Figure 8's score panels or (``metric="auc"``) AUC panels (a CSV only):
    a line per run, eval loss and iteration."""
    caption = (
        f"Its lower row: the held-out AUC of the same tests, median and 10-90 % band over splits; dotted: 0.5, where "
        "the critic cannot tell generated from real images; dashed: the real-vs-real baseline's median AUC. "
        f"AUC is the chance that the critic ranks a held-out real image above a generated one (1: every one told "
        f"apart), comparable across losses; each test's p-value is in its c2st.json. Data: [{name}.csv]({name}.csv).\n"
        if metric == "auc"
        else f"![Figure 8, {what} generators]({name}.png)\n\nFake vs real C2ST of {what} generators against the "
        "generator's training iteration: median over splits, band from the 10th to the 90th percentile, dashed: "
        f"the real-vs-real baseline's median for that loss. Data: [{name}.csv]({name}.csv).\n"
    )
    columns = ["n", "median", "p10", "p90", "mean", "std"]
    lines = [(loss, c) for loss, curves_ in by_loss.items() for c in curves_]
    return Table(
        name, caption, "", ["eval_loss", "model", "train_loss", "run", "iteration", *columns],
        [[loss, c.model, c.train_loss, c.run, it, *stats(p, columns)] for loss, c in lines for it, p in c.cells.items()],
        [s for _, c in lines for p in c.cells.values() for s in p.sources], lines=[c for _, c in lines],
    )  # fmt: skip


def report_markdown(report: ReportRecord, sections: Sequence[str]) -> str:
    """``report.md``: the header, the table and figure ``sections``, then every run's state,
    what is missing and the notes."""
    found = {k: len(v) for k, v in report.found.items()}
    states = Counter(r.status for r in report.runs)
    runs = markdown_table(
        ["tool", "state", "run directory", "detail", "log"],
        [[r.tool, r.status, r.path, r.detail, r.log or ""] for r in report.runs],
    )
    tail = [
        "## Runs\n\n" + ", ".join(f"{n} {state}" for state, n in sorted(states.items())) + ":\n",
        runs,
        "## Missing\n",
        "".join(f"- {m}\n" for m in report.missing) or "Nothing missing.\n",
        *(["## Notes\n", "".join(f"- {n}\n" for n in report.notes)] if report.notes else []),
    ]
    header = (
        f"# {report.title}\n\nMade {report.created} from {found['c2st']} C2ST results, {found['reconstruction']} "
        f"reconstruction results and {found['training']} training runs found under: "
        f"{', '.join(f'`{r}`' for r in report.roots)}. Scores are minus the critic's loss on held-out images: lower "
        "means harder to tell apart (for fake vs real: a better generator); std is over splits (ddof=0).\n"
    )
    return header + "\n" + "\n".join([*sections, *tail])
