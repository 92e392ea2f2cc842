"""The report's pictures: Figure 8 (score and AUC against generator iteration), the sample sheet, and
the copies of sample grids and reconstruction panels the report links to.

Drawing and copying only: the numbers come summarised from :mod:`biogans.tasks.reporting`.  The
object-oriented matplotlib API draws with Agg without touching pyplot's global backend,
and every PNG is written atomically.
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from biogans.core.files import atomic_write
from biogans.tasks.report_tables import loss_label


def _new_figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save(fig: Any, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write(path, lambda f: f.write(buf.getvalue()))
    return path


def short_count(n: int) -> str:
    """1000 -> 1k, 500000 -> 500k: tick labels that fit."""
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def figure8(
    by_loss: Mapping[str, Sequence[Any]],
    baselines: Mapping[str, Any],
    path: Path,
    conditional: bool = False,
    auc_by_loss: Mapping[str, Sequence[Any]] | None = None,
    auc_baselines: Mapping[str, Any] | None = None,
) -> Path | None:
    """A panel per eval loss (``by_loss``: loss -> curves, each with a ``label`` and ``cells``,
    iteration -> summarised scores): the median per run with its 10-90 % band, and the
    real-vs-real baseline's median (``baselines``: loss -> summarised scores) as a dashed line.
    With ``auc_by_loss`` (the same curves of the held-out AUC), a second row of panels: AUC
    against iteration, 0.5 (the critic cannot tell the sides apart) dotted, the baseline's
    median AUC dashed.  ``None`` when there is no curve."""
    if not by_loss:
        return None
    aucs = {loss: auc_by_loss[loss] for loss in by_loss if auc_by_loss and auc_by_loss.get(loss)}
    fig = _new_figure(max(6.0, 5.2 * len(by_loss)), 4.4 * (2 if aucs else 1))
    axes = fig.subplots(2 if aucs else 1, len(by_loss), squeeze=False)
    label = "C2ST score (mean over classes)" if conditional else "C2ST score"
    for ax, (loss, lines) in zip(axes[0], by_loss.items(), strict=True):
        _curves(ax, lines, baselines.get(loss), f"eval loss {loss_label(loss)}", label)
    for ax, loss in zip(axes[1], by_loss, strict=True) if aucs else ():
        if loss not in aucs:
            ax.axis("off")
            continue
        ax.axhline(0.5, color="0.4", ls=":", lw=1.5, label="indistinguishable (0.5)")
        _curves(ax, aucs[loss], (auc_baselines or {}).get(loss), f"eval loss {loss_label(loss)}, held-out AUC",
                "AUC (mean over classes)" if conditional else "AUC")  # fmt: skip
        low = min((c.percentile(10) for curve in aucs[loss] for c in curve.cells.values()), default=0.5)
        ax.set_ylim(min(0.45, low - 0.03), 1.02)
    kind = "conditional" if conditional else "joint"
    fig.suptitle(f"Fake vs real C2ST, {kind} generators\nmedian and 10-90 % band over splits", fontsize="medium")
    return _save(fig, path)


def _curves(ax: Any, lines: Sequence[Any], base: Any, title: str, ylabel: str) -> None:
    """One panel of Figure 8: each run's median and band against iteration, the baseline dashed."""
    from matplotlib.ticker import NullLocator

    for k, curve in enumerate(lines):
        its, cells = list(curve.cells), list(curve.cells.values())
        ax.plot(its, [c.median for c in cells], "o-", color=f"C{k % 10}", label=curve.label, ms=4)
        low, high = [c.percentile(10) for c in cells], [c.percentile(90) for c in cells]
        ax.fill_between(its, low, high, color=f"C{k % 10}", alpha=0.2, linewidth=0)
    if base is not None:
        ax.axhline(base.median, color="k", ls="--", lw=1, label=f"real vs real ({base.n} splits)")
    all_its = sorted({it for curve in lines for it in curve.cells})
    ax.set_xscale("log" if all_its[0] > 0 else "symlog", **({} if all_its[0] > 0 else {"linthresh": 1}))
    if len(all_its) <= 14:  # the checkpoints themselves as ticks, as on the paper's schedule
        ax.set_xticks(all_its, labels=[short_count(i) for i in all_its])
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_title(title)
    ax.set_xlabel("generator iteration")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small", title="model/train loss", title_fontsize="small")


def sample_sheet_figure(grids: Sequence[tuple[Path, str]], path: Path) -> Path | None:
    """Sample grids (image file, title) side by side, three to a row.  ``None`` when there is none."""
    from matplotlib.image import imread

    if not grids:
        return None
    cols = min(3, len(grids))
    nrows = -(-len(grids) // cols)
    fig = _new_figure(4.6 * cols, 3.6 * nrows)
    axes = fig.subplots(nrows, cols, squeeze=False).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, (image, title) in zip(axes, grids, strict=False):
        ax.imshow(imread(str(image)), interpolation="nearest")
        ax.set_title(title, fontsize="small")
    return _save(fig, path)


def copy_panels(rows: Sequence[Any], out: Path) -> list[str]:
    """Copy the reconstruction panels of Table 3's rows (``label``, ``optimise``, ``panels``) into
    ``out/panels``; a Markdown line of links per row."""
    lines = []
    for r in rows:
        links = []
        for name, src in r.panels.items():
            if src.is_file():
                dest = f"panels/{safe_name(r.label)}_{safe_name(r.optimise)}/{safe_name(name)}.png"
                (out / dest).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, out / dest)
                links.append(f"[{name}]({dest})")
        if links:
            lines.append(f"{r.label} ({r.optimise}): " + ", ".join(links))
    return lines


def write_samples(runs: Sequence[tuple[str, Any]], out: Path) -> tuple[list[str], bool]:
    """Copy each training run's latest grid (``(label, run)``, ``run`` a reporting ``TrainingRun``)
    into ``out/samples`` and draw them side by side into ``samples.png``; the Markdown lines
    and whether the sheet was drawn."""
    grids, lines = [], []
    for label, r in runs:
        if r.sample is None:
            continue
        name = f"{safe_name(label)}_iter_{r.sample_iteration:07d}.png"
        (out / "samples").mkdir(exist_ok=True)
        shutil.copyfile(r.sample, out / "samples" / name)
        grids.append(
            (r.sample, f"{label} @ iteration {r.sample_iteration}" + ("" if r.status == "done" else f" ({r.status})"))
        )
        referenced = ", referenced by a result" if r.referenced else ""
        lines.append(
            f"[{label} @ iteration {r.sample_iteration}](samples/{name}) ({r.status}, run {r.run_dir}{referenced})"
        )
    return lines, sample_sheet_figure(grids, out / "samples.png") is not None


def safe_name(text: str) -> str:
    """``text`` as a file name (runs of other characters become ``_``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "run"
