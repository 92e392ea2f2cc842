"""How the report's tables look on disk: a Markdown table for reading, a CSV for computing.

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

from biogans.core.files import atomic_write

if TYPE_CHECKING:
    from biogans.core.records import ReportRecord
    from biogans.tasks.reporting import Cell, Line, Table

LOSS_LABELS = {"gan": "GAN", "wgan": "WGAN", "wgangp": "WGAN-GP"}
RECONSTRUCTION_METRICS = ("l2", "nll", "nll_init", "neighbour_l2")


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
    """The class-pair grid: class A down, class B across, the row's minimum in bold."""
    (set_a, set_b), grid, rows = t.sets, [], []
    for a in t.classes:
        texts = [fmt_mean_std(t.cells.get((a, b)), digits) for b in t.classes]
        grid.append([a, *(f"**{x}**" if t.row_min.get(a) == b else x for b, x in zip(t.classes, texts, strict=True))])
        for b in t.classes:
            cell = t.cells.get((a, b))
            rows.append([t.loss, set_a, set_b, a, b, *stats(cell, "mean", "std", "n"), splits(cell)])
            rows[-1].append(int(t.row_min.get(a) == b))
    missing = ", ".join(f"{a} vs {b}" for a, b in t.missing)
    return TableText(
        t.name,
        f"Table 1 ({loss_label(t.loss)} critic): real vs real, class A from the {set_a} set's splits against "
        f"class B from the {set_b} set's splits; mean ± std over splits (n); bold: the row's minimum.",
        markdown_table([f"A ({set_a}) \\ B ({set_b})", *t.classes], grid),
        ["loss", "set_a", "set_b", "class_a", "class_b", "mean", "std", "n", "splits", "row_min"],
        rows,
        t.sources,
        t.notes + ([f"missing cells (-): {missing}"] if missing else []),
    )


def baseline_text(cells: dict[tuple[Any, ...], Cell], digits: int) -> TableText:
    """A line per (loss, set a, classes a, set b, classes b)."""
    md = [
        [loss_label(k[0]), k[1], ", ".join(k[2]), k[3], ", ".join(k[4]), fmt_mean_std(c, digits)]
        for k, c in cells.items()
    ]
    rows = [
        [k[0], k[1], ";".join(k[2]), k[3], ";".join(k[4]), *stats(c, "mean", "std", "n", "median"), splits(c)]
        for k, c in cells.items()
    ]
    return TableText(
        "baseline",
        "Real-vs-real baseline: several classes in each set; mean ± std over splits (n). "
        "The paper (6 classes, a = test, b = train): GAN -3.71 ± 0.72, WGAN 0.00 ± 0.00, WGAN-GP -0.73 ± 0.64.",
        markdown_table(["eval loss", "set a", "classes a", "set b", "classes b", "mean ± std (n)"], md),
        ["loss", "set_a", "classes_a", "set_b", "classes_b", "mean", "std", "n", "median", "splits"],
        rows,
        [s for c in cells.values() for s in c.sources],
    )


def table2_text(t: Table, digits: int) -> TableText:
    """A line per conditional generator run, a column per class and its score ("mean")."""
    columns = [*t.classes, "mean"]
    md = [[r.label, str(r.iteration), *(fmt_mean_std(r.cells.get(c), digits) for c in columns)] for r in t.rows]
    rows = [
        [t.loss, r.model, r.train_loss, r.run, r.iteration, c, *stats(r.cells.get(c), "mean", "std", "n")]
        + [splits(r.cells.get(c))]
        for r in t.rows
        for c in columns
    ]
    return TableText(
        t.name,
        f"Table 2 ({loss_label(t.loss)} critic): fake vs real per class for conditional generators at their latest "
        "evaluated iteration; mean ± std over splits (n); 'mean' is the run's score, the mean over classes.",
        markdown_table(["model / train loss", "iteration", *columns], md),
        ["eval_loss", "model", "train_loss", "run", "iteration", "class", "mean", "std", "n", "splits"],
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


def curves_text(name: str, by_loss: dict[str, list[Line]], what: str) -> TableText:
    """The data of a Figure 8 (a CSV only): a line per run, eval loss and iteration."""
    rows = [
        [loss, c.model, c.train_loss, c.run, it, p.n, p.median, p.percentile(10), p.percentile(90), p.mean, p.std]
        for loss, lines in by_loss.items()
        for c in lines
        for it, p in c.cells.items()
    ]
    return TableText(
        name,
        f"![Figure 8, {what} generators]({name}.png)\n\nFake vs real C2ST of {what} generators against the "
        "generator's training iteration: median over splits, band from the 10th to the 90th percentile, dashed: "
        f"the real-vs-real baseline's median for that loss. Data: [{name}.csv]({name}.csv).\n",
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
