"""How the report's tables look on disk: a Markdown table for reading, a CSV for computing,
rows and columns in the paper's order, runs labelled ``model/loss``.

The numbers come summarised from :mod:`biogans.tasks.reporting` (a :class:`Cell` per table
cell); this module only lays them out.  Markdown rounds to ``digits`` decimals; CSV files
keep full precision (``repr`` of floats), with empty cells for missing values.
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

from biogans.config import PAPER_8_CLASSES
from biogans.core.files import atomic_write

if TYPE_CHECKING:
    from biogans.core.records import ReportRecord
    from biogans.tasks.reporting import Cell, Line, Table

LOSS_LABELS = {"gan": "GAN", "wgan": "WGAN", "wgangp": "WGAN-GP"}
#: an AUC cell counts its splits whose p-value is below this (k/n)
SIGNIFICANCE = 0.01
#: how to read an AUC table, said once per table in its caption
READ_AUC = (
    "AUC is the chance that the critic ranks a held-out image of side a above one of side b (0.5: the two cannot be "
    "told apart, 1: every image is told apart, whatever the loss), and k/n counts the splits whose p-value "
    f"(one-sided Mann-Whitney U over the held-out images, each counted once) is below {SIGNIFICANCE}, i.e. the "
    "splits where the difference is more than chance."
)
RECONSTRUCTION_METRICS = ("l2", "nll", "nll_init", "neighbour_l2")


#: display orders: WGAN-GP first (the paper's Table 1 uses it alone); joint families, then conditional ones
LOSS_ORDER = ("wgangp", "gan", "wgan")
MODEL_ORDER = ("dcgan", "sep", "star", "independent", "independent_sep", "multichannel", "multichannel_sep")


def class_order(seen: Iterable[str]) -> list[str]:
    """Classes in the paper's order when all are the paper's, else in the order first seen."""
    names = list(dict.fromkeys(seen))
    return [n for n in PAPER_8_CLASSES if n in names] if all(n in PAPER_8_CLASSES for n in names) else names


def loss_order(losses: Iterable[str]) -> list[str]:
    present = set(losses)
    return [x for x in LOSS_ORDER if x in present] + sorted(present - set(LOSS_ORDER))


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


def row_minima(cells: dict[tuple[str, str], Cell], rows: Sequence[str], columns: Sequence[str]) -> dict[str, str]:
    """Per row, the column with the smallest mean (the first on ties), bold in Table 1; rows with
    fewer than two filled cells have no minimum worth marking."""
    out: dict[str, str] = {}
    for r in rows:
        filled = [(cells[(r, c)].mean, i, c) for i, c in enumerate(columns) if (r, c) in cells and cells[(r, c)].n]
        if len(filled) >= 2:
            out[r] = min(filled)[2]
    return out


@dataclass
class TableText:
    """One table as written: ``<name>.md`` (unless ``markdown`` is empty) and ``<name>.csv``."""

    name: str
    caption: str
    markdown: str
    csv_header: list[str]
    csv_rows: list[list[Any]]
    sources: list[Path]
    notes: list[str] = field(default_factory=list)


def loss_label(loss: str) -> str:
    return LOSS_LABELS.get(loss, loss)


def fmt_mean_std(cell: Cell | None, digits: int = 2) -> str:
    """``mean ± std (n)``; ``-`` for an empty cell."""
    return f"{cell.mean:.{digits}f} ± {cell.std:.{digits}f} ({cell.n})" if cell and cell.n else "-"


def fmt_auc(cell: Cell | None, digits: int = 2) -> str:
    """``mean ± std (k/n)``: k of the n splits had p < SIGNIFICANCE; ``-`` for an empty cell."""
    if not cell or not cell.n:
        return "-"
    return f"{cell.mean:.{digits}f} ± {cell.std:.{digits}f} ({significant(cell)}/{cell.n})"


def significant(cell: Cell | None) -> int:
    """How many splits of an AUC cell found a difference (p-value below SIGNIFICANCE)."""
    return cell.significant(SIGNIFICANCE) if cell else 0


def fmt_median_mad(cell: Cell | None, digits: int = 2) -> str:
    """``median ± MAD``; ``-`` for an empty cell."""
    return f"{cell.median:.{digits}f} ± {cell.mad:.{digits}f}" if cell and cell.n else "-"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(r) for r in rows)]) + "\n"


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A CSV at full precision (``repr`` of floats), NaN and None as empty cells."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
    write_text(path, buf.getvalue())


def _csv_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(float(value)) if isinstance(value, float) else value


def write_table(out: Path, text: TableText) -> None:
    """``<name>.csv`` and, for a table (not a figure's data), ``<name>.md`` in ``out``."""
    write_csv(out / f"{text.name}.csv", text.csv_header, text.csv_rows)
    if text.markdown:
        write_text(out / f"{text.name}.md", text.markdown)


def stats(cell: Cell | None, *names: str) -> list[Any]:
    """Summaries of a cell for a CSV row (n 0 and the others empty when there is no cell)."""
    return [getattr(cell, k) if cell else 0 if k == "n" else None for k in names]


def splits(cell: Cell | None) -> str:
    return ";".join(map(str, cell.splits)) if cell else ""


def table1_text(t: Table, digits: int) -> TableText:
    """The class-pair grid: class A down, class B across, the row's minimum in bold (score or AUC)."""
    (set_a, set_b), grid, rows, auc = t.sets, [], [], t.metric == "auc"
    for a in t.classes:
        texts = [_fmt(t.cells.get((a, b)), auc, digits) for b in t.classes]
        grid.append([a, *(f"**{x}**" if t.row_min.get(a) == b else x for b, x in zip(t.classes, texts, strict=True))])
        for b in t.classes:
            cell = t.cells.get((a, b))
            rows.append([t.loss, set_a, set_b, a, b, *stats(cell, "mean", "std", "n")])
            rows[-1] += [significant(cell)] if auc else []
            rows[-1] += [splits(cell), int(t.row_min.get(a) == b)]
    missing = ", ".join(f"{a} vs {b}" for a, b in t.missing)
    what = "held-out AUC, mean ± std over splits (k/n)" if auc else "mean ± std over splits (n)"
    return TableText(
        t.name,
        f"Table 1{', AUC' if auc else ''} ({loss_label(t.loss)} critic): real vs real, class A from the {set_a} set's "
        f"splits against class B from the {set_b} set's splits; {what}; bold: the row's minimum."
        + (f" {READ_AUC}" if auc else ""),
        markdown_table([f"A ({set_a}) \\ B ({set_b})", *t.classes], grid),
        ["loss", "set_a", "set_b", "class_a", "class_b", "mean", "std", "n", *_SIG[auc], "splits", "row_min"],
        rows,
        t.sources,
        t.notes + ([f"missing cells (-): {missing}"] if missing else []),
    )


#: the CSV column of AUC tables: splits with p < SIGNIFICANCE; what the count in a cell is
_SIG = {False: [], True: ["n_significant"]}
_count = {False: "n", True: "k/n"}


def _fmt(cell: Cell | None, auc: bool, digits: int) -> str:
    return fmt_auc(cell, digits) if auc else fmt_mean_std(cell, digits)


def baseline_text(cells: dict[tuple[Any, ...], Cell], digits: int, metric: str = "score") -> TableText:
    """A line per (loss, set a, classes a, set b, classes b), of scores or (``metric="auc"``) AUCs."""
    auc = metric == "auc"
    md = [
        [loss_label(k[0]), k[1], ", ".join(k[2]), k[3], ", ".join(k[4]), _fmt(c, auc, digits)] for k, c in cells.items()
    ]
    rows = [
        [k[0], k[1], ";".join(k[2]), k[3], ";".join(k[4]), *stats(c, "mean", "std", "n", "median")]
        + ([significant(c)] if auc else [])
        + [splits(c)]
        for k, c in cells.items()
    ]
    caption = (
        f"Real-vs-real baseline, AUC: several classes in each set; held-out AUC, mean ± std over splits (k/n); the "
        f"paper's setting (6 classes, a = test, b = train) should be near 0.5. {READ_AUC}"
        if auc
        else "Real-vs-real baseline: several classes in each set; mean ± std over splits (n). "
        "The paper (6 classes, a = test, b = train): GAN -3.71 ± 0.72, WGAN 0.00 ± 0.00, WGAN-GP -0.73 ± 0.64."
    )
    return TableText(
        "baseline_auc" if auc else "baseline",
        caption,
        markdown_table(["eval loss", "set a", "classes a", "set b", "classes b", f"mean ± std ({_count[auc]})"], md),
        ["loss", "set_a", "classes_a", "set_b", "classes_b", "mean", "std", "n", "median", *_SIG[auc], "splits"],
        rows,
        [s for c in cells.values() for s in c.sources],
    )


def table2_text(t: Table, digits: int) -> TableText:
    """A line per conditional generator run, a column per class and its score or AUC ("mean")."""
    columns, auc = [*t.classes, "mean"], t.metric == "auc"
    md = [[r.label, str(r.iteration), *(_fmt(r.cells.get(c), auc, digits) for c in columns)] for r in t.rows]
    rows = [
        [t.loss, r.model, r.train_loss, r.run, r.iteration, c, *stats(r.cells.get(c), "mean", "std", "n")]
        + ([significant(r.cells.get(c))] if auc else [])
        + [splits(r.cells.get(c))]
        for r in t.rows
        for c in columns
    ]
    caption = (
        f"Table 2, AUC ({loss_label(t.loss)} critic): fake vs real per class for conditional generators at their "
        "latest evaluated iteration; held-out AUC, mean ± std over splits (k/n); 'mean' is the run's AUC, the mean "
        f"over classes, with Fisher's combination of the classes' p-values. {READ_AUC}"
        if auc
        else f"Table 2 ({loss_label(t.loss)} critic): fake vs real per class for conditional generators at their "
        "latest evaluated iteration; mean ± std over splits (n); 'mean' is the run's score, the mean over classes."
    )
    return TableText(
        t.name,
        caption,
        markdown_table(["model / train loss", "iteration", *columns], md),
        ["eval_loss", "model", "train_loss", "run", "iteration", "class", "mean", "std", "n", *_SIG[auc], "splits"],
        rows,
        t.sources,
        t.notes,
    )


def table3_text(t: Table, digits: int) -> TableText:
    """Two grids (L2, NLL: a line per run and optimisation, a column per class and overall) and one CSV."""
    columns, parts, rows = [*t.classes, "overall"], [], []
    for key, title in (("l2", "L2 error"), ("nll", "NLL of the latent")):
        md = [[r.label, r.optimise, str(r.iteration), *(fmt_median_mad(r.cells.get((c, key)), digits) for c in columns)]
              for r in t.rows]  # fmt: skip
        parts.append(f"{title}, median ± MAD:\n\n" + markdown_table(["model / train loss", "optimise", "iteration",
                                                                     *columns], md))  # fmt: skip
    for r in t.rows:
        for c in columns:
            l2, nll, nll_init, neighbour = (r.cells.get((c, m)) for m in RECONSTRUCTION_METRICS)
            rows.append([r.model, r.train_loss, r.optimise, r.run, r.iteration, c, l2.n if l2 else None,
                         *stats(l2, "median", "mad"), *stats(nll, "median", "mad"), *stats(nll_init, "median"),
                         *stats(neighbour, "median"), str(r.source)])  # fmt: skip
    return TableText(
        t.name,
        "Table 3: reconstruction of the test images through the latent space, per class and overall; "
        "median ± MAD over images of the L2 error ([0, 1] pixels) and of the latent's negative log-likelihood.",
        "\n".join(parts),
        ["model", "train_loss", "optimise", "run", "iteration", "class", "n", "l2_median", "l2_mad", "nll_median",
         "nll_mad", "nll_init_median", "neighbour_l2_median", "source"],
        rows,
        t.sources,
        t.notes,
    )  # fmt: skip


def curves_text(name: str, by_loss: dict[str, list[Line]], what: str, metric: str = "score") -> TableText:
    """The data of a Figure 8's score panels or (``metric="auc"``) AUC panels (a CSV only):
    a line per run, eval loss and iteration."""
    rows = [
        [loss, c.model, c.train_loss, c.run, it, p.n, p.median, p.percentile(10), p.percentile(90), p.mean, p.std]
        for loss, lines in by_loss.items()
        for c in lines
        for it, p in c.cells.items()
    ]
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
    return TableText(
        name,
        caption,
        "",
        ["eval_loss", "model", "train_loss", "run", "iteration", "n", "median", "p10", "p90", "mean", "std"],
        rows,
        [s for lines in by_loss.values() for c in lines for p in c.cells.values() for s in p.sources],
    )


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
