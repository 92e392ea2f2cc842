"""The paper's tables and figures, rebuilt from the result files that runs leave on disk.

Every number in a report comes from a run directory, never from a log: ``c2st.json``
(``python -m biogans.c2st``), ``reconstruction.json`` (``python -m biogans.reconstruct``)
and ``metrics.json`` with ``samples/iter_<N>.png`` (``python -m biogans.train``).  A sweep
leaves these scattered over many folders, some of them failed or unfinished, so
:func:`collect` searches whole trees, keeps what it can read, and lists what it could
not: a report is always rendered from whatever is there, and what is missing is said.

What is aggregated, and how:

- Table 1 (real vs real, one class in each set): one grid per eval loss, cell = mean and
  standard deviation (numpy's, ddof=0) of the scores over the splits found, and n;
  the smallest mean of each row is marked.
- Baseline (real vs real, several classes per set): mean and std over splits per loss.
- Table 2 (fake vs real, conditional generators): per class and the run's score (the mean
  over classes), mean and std over splits, at the latest generator iteration of each run.
- Table 3 (reconstruction): median and MAD of L2 and NLL per class and overall, as the
  reconstruction tool wrote them (a file without them is listed as unreadable).
- Figure 8 (fake vs real, joint generators, against generator iteration): median over
  splits with the 10th-90th percentile band, the real-vs-real baseline as a line.

When one split of one setting was evaluated twice, the newer file counts and the older is
named in the notes, so a re-run never counts twice.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biogans.config import PAPER_8_CLASSES
from biogans.core.errors import BiogansError
from biogans.core.files import atomic_write, write_json

C2ST_FORMAT = "biogans-c2st-v1"
RECONSTRUCTION_FORMAT = "biogans-reconstruction-v1"
REPORT_FORMAT = "biogans-report-v1"

#: display order of losses: WGAN-GP first (Table 1 of the paper uses it alone)
LOSS_ORDER = ("wgangp", "gan", "wgan")
LOSS_LABELS = {"gan": "GAN", "wgan": "WGAN", "wgangp": "WGAN-GP"}
#: display order of model families: joint ones, then the conditional ones as in the paper
MODEL_ORDER = ("dcgan", "sep", "star", "independent", "independent_sep", "multichannel", "multichannel_sep")

_SAMPLE_RE = re.compile(r"^iter_(\d+)\.png$")
_RESULT_FILES = ("c2st.json", "reconstruction.json", "metrics.json")
_HYDRA_JOBS = {"c2st": "c2st.json", "reconstruct": "reconstruction.json", "train": "metrics.json"}


class ReportError(BiogansError):
    """Nothing could be reported (no readable result anywhere under the paths given)."""


# --------------------------------------------------------------------------- records
@dataclass(frozen=True)
class C2STRecord:
    """One ``c2st.json``: a single split scored with a single eval loss."""

    source: Path
    mtime: float
    mode: str
    loss: str
    split: int
    score: float
    per_class: dict[str, float] | None
    #: real_vs_real: the set and classes of images a and b
    set_a: str | None = None
    classes_a: tuple[str, ...] = ()
    set_b: str | None = None
    classes_b: tuple[str, ...] = ()
    #: fake_vs_real: the generator judged
    model: str | None = None
    train_loss: str | None = None
    generator_run: str | None = None
    iteration: int | None = None
    real_classes: tuple[str, ...] = ()
    #: the critic's settings, to flag tables that mix them
    settings: tuple[Any, ...] = ()


@dataclass(frozen=True)
class ReconstructionRecord:
    """One ``reconstruction.json``: a generator's reconstructions of one set."""

    source: Path
    mtime: float
    model: str
    train_loss: str
    generator_run: str
    iteration: int | None
    optimise: str
    classes: tuple[str, ...]
    #: class (and ``"overall"``) -> n, l2_median, l2_mad, nll_median, nll_mad, ...
    stats: dict[str, dict[str, float]]
    settings: tuple[Any, ...] = ()
    #: class -> its panel image [target | reconstruction | initial | nearest neighbour]
    panels: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingRun:
    """A training run directory (``metrics.json``) and its latest sample grid."""

    run_dir: Path
    model: str
    loss: str
    status: str
    iteration: int
    iterations: int | None
    sample: Path | None
    sample_iteration: int | None
    referenced: bool = False


@dataclass
class Collected:
    """Everything found under the paths given, and what could not be used."""

    roots: list[str]
    c2st: list[C2STRecord] = field(default_factory=list)
    reconstruction: list[ReconstructionRecord] = field(default_factory=list)
    training: list[TrainingRun] = field(default_factory=list)
    #: paths and runs that gave nothing (absent, unreadable, failed or unfinished)
    missing: list[str] = field(default_factory=list)
    #: caveats: replaced duplicates, unfinished training, mixed settings
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.c2st or self.reconstruction or self.training)


# --------------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class Cell:
    """Scores of one table cell, one per split (sorted by split)."""

    splits: tuple[int, ...]
    values: tuple[float, ...]

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
        return float(np.median(self.values)) if self.values else math.nan

    def percentile(self, q: float) -> float:
        """Linear-interpolated percentile (numpy's default)."""
        return float(np.percentile(self.values, q)) if self.values else math.nan


def make_cell(pairs: Iterable[tuple[int, float]]) -> Cell:
    """A cell from (split, score) pairs, ordered by split."""
    ordered = sorted(pairs)
    return Cell(tuple(s for s, _ in ordered), tuple(float(v) for _, v in ordered))


def row_minima(cells: dict[tuple[str, str], Cell], rows: Sequence[str], columns: Sequence[str]) -> dict[str, str]:
    """Per row, the column with the smallest mean (the first on ties); rows with fewer than two
    filled cells have no minimum worth marking."""
    out: dict[str, str] = {}
    for r in rows:
        filled = [(cells[(r, c)].mean, i, c) for i, c in enumerate(columns) if (r, c) in cells and cells[(r, c)].n]
        if len(filled) >= 2:
            out[r] = min(filled)[2]
    return out


def class_order(seen: Iterable[str]) -> list[str]:
    """Classes in the paper's order when all are the paper's, else in the order first seen."""
    names = list(dict.fromkeys(seen))
    if all(name in PAPER_8_CLASSES for name in names):
        return [name for name in PAPER_8_CLASSES if name in names]
    return names


def loss_order(losses: Iterable[str]) -> list[str]:
    present = set(losses)
    return [x for x in LOSS_ORDER if x in present] + sorted(present - set(LOSS_ORDER))


def _rank(order: Sequence[str], name: str) -> int:
    """Position of ``name`` in a display order; unknown names after the known ones."""
    return order.index(name) if name in order else len(order)


def loss_label(loss: str) -> str:
    return LOSS_LABELS.get(loss, loss)


# --------------------------------------------------------------------------- reading
def _need(data: dict[str, Any], key: str) -> Any:
    if key not in data or data[key] is None:
        raise ValueError(f"has no {key!r}")
    return data[key]


def _as_int(value: Any) -> int | None:
    return None if value is None else int(value)


def parse_c2st(data: dict[str, Any], source: Path, mtime: float = 0.0) -> C2STRecord:
    """Check and read a ``c2st.json`` dict; a ``ValueError`` says what is wrong with it."""
    if data.get("format") != C2ST_FORMAT:
        raise ValueError(f"is not a biogans C2ST result (format {data.get('format')!r}, expected {C2ST_FORMAT!r})")
    mode = str(_need(data, "mode"))
    score = float(_need(data, "score"))
    if not math.isfinite(score):
        raise ValueError(f"has a non-finite score {score}")
    per_class = data.get("per_class")
    settings = tuple(data.get(k) for k in ("iterations", "batch_size", "ndf", "eval_passes"))
    common: dict[str, Any] = {
        "source": source,
        "mtime": mtime,
        "mode": mode,
        "loss": str(_need(data, "loss")),
        "split": int(_need(data, "split")),
        "score": score,
        "per_class": {str(k): float(v) for k, v in per_class.items()} if per_class else None,
        "settings": settings,
    }
    if mode == "real_vs_real":
        a, b = _need(data, "a"), _need(data, "b")
        return C2STRecord(
            **common,
            set_a=str(a.get("set")), classes_a=tuple(map(str, a.get("classes") or ())),
            set_b=str(b.get("set")), classes_b=tuple(map(str, b.get("classes") or ())),
        )  # fmt: skip
    if mode == "fake_vs_real":
        gen = _need(data, "generator")
        real = data.get("real") or {}
        return C2STRecord(
            **common,
            model=str(gen.get("model") or gen.get("kind") or "?"),
            train_loss=str(gen.get("train_loss") or "?"),
            generator_run=str(gen.get("run_dir") or gen.get("path") or source.parent),
            iteration=_as_int(gen.get("iteration")),
            real_classes=tuple(map(str, real.get("classes") or ())),
        )
    raise ValueError(f"has an unknown mode {mode!r}")


_STAT_KEYS = ("n", "l2_median", "l2_mad", "nll_median", "nll_mad", "nll_init_median", "neighbour_l2_median")


def parse_reconstruction(data: dict[str, Any], source: Path, mtime: float = 0.0) -> ReconstructionRecord:
    """Check and read a ``reconstruction.json`` dict; a ``ValueError`` says what is wrong."""
    if data.get("format") != RECONSTRUCTION_FORMAT:
        raise ValueError(
            f"is not a biogans reconstruction result (format {data.get('format')!r}, expected {RECONSTRUCTION_FORMAT!r})"
        )
    gen = _need(data, "generator")
    classes = tuple(map(str, _need(data, "classes")))
    if not classes:
        raise ValueError("has no classes")
    written = {**_need(data, "per_class"), "overall": _need(data, "overall")}
    stats: dict[str, dict[str, float]] = {}
    for name in (*classes, "overall"):
        if name not in written:
            raise ValueError(f"has no summary of class {name!r}")
        # statistics with no finite value are null in the file: left out here
        stats[name] = {k: float(written[name][k]) for k in _STAT_KEYS if written[name].get(k) is not None}
    return ReconstructionRecord(
        source=source, mtime=mtime, model=str(gen.get("model") or gen.get("kind") or "?"),
        train_loss=str(gen.get("train_loss") or "?"), generator_run=str(gen.get("run_dir") or gen.get("path") or "?"),
        iteration=_as_int(gen.get("iteration")), optimise=str(data.get("optimise", "joint")), classes=classes,
        stats=stats, settings=tuple(data.get(k) for k in ("set", "trials", "steps", "lr", "max_iter")),
        panels={str(c): source.parent / str(p) for c, p in (data.get("panels") or {}).items()},
    )  # fmt: skip


def latest_sample(run_dir: Path) -> tuple[Path | None, int | None]:
    """The sample grid with the highest iteration number in ``run_dir/samples``."""
    best: tuple[int, Path] | None = None
    folder = run_dir / "samples"
    if folder.is_dir():
        for p in folder.iterdir():
            m = _SAMPLE_RE.match(p.name)
            if m and p.is_file() and (best is None or int(m.group(1)) > best[0]):
                best = (int(m.group(1)), p)
    return (best[1], best[0]) if best else (None, None)


def parse_training(data: dict[str, Any], run_dir: Path, referenced: bool = False) -> TrainingRun:
    """Read a training ``metrics.json`` dict; a ``ValueError`` if it is not one."""
    if not isinstance(data, dict) or "status" not in data or "iteration" not in data or "model" not in data:
        raise ValueError("is not a biogans training metrics.json (no status/iteration/model)")
    sample, sample_it = latest_sample(run_dir)
    return TrainingRun(
        run_dir=run_dir, model=str(data["model"]), loss=str(data.get("loss", "?")), status=str(data["status"]),
        iteration=int(data["iteration"]), iterations=_as_int(data.get("iterations")), sample=sample,
        sample_iteration=sample_it, referenced=referenced,
    )  # fmt: skip


def _hydra_job(run_dir: Path) -> tuple[str | None, list[str]]:
    """The Hydra job name and overrides of a run directory (``.hydra/``), if it has them."""
    name: str | None = None
    overrides: list[str] = []
    hydra_yaml = run_dir / ".hydra" / "hydra.yaml"
    if hydra_yaml.is_file():
        # a plain scan: the file holds unresolvable interpolations, and only one key is wanted
        in_job = False
        for line in hydra_yaml.read_text(errors="replace").splitlines():
            if line.startswith("  job:"):
                in_job = True
            elif in_job and line.startswith("    name:"):
                name = line.split(":", 1)[1].strip()
                break
            elif in_job and line.startswith("  ") and not line.startswith("    "):
                in_job = False
    over = run_dir / ".hydra" / "overrides.yaml"
    if over.is_file():
        overrides = [ln[2:].strip() for ln in over.read_text(errors="replace").splitlines() if ln.startswith("- ")]
    return name, overrides


def collect(paths: Iterable[str | Path]) -> Collected:
    """Every result under ``paths`` (run directories, sweep folders, or result files).

    Unreadable files, absent paths and run directories of the evaluation tools that left no
    result (failed or killed jobs) go to ``missing``; training runs referenced by a result
    (``generator.run_dir``) are added even when outside ``paths``, for their sample grids.
    """
    paths = [str(p) for p in paths]
    found = Collected(roots=paths)
    seen: set[Path] = set()
    for raw in paths:
        root = Path(raw).expanduser()
        if not root.exists():
            found.missing.append(f"{raw}: no such file or folder")
            continue
        before = (len(found.c2st), len(found.reconstruction), len(found.training), len(found.missing))
        if root.is_file():
            if root.name in _RESULT_FILES:
                _read_result(found, root, seen)
            else:
                found.missing.append(f"{raw}: not a run directory or a result file ({', '.join(_RESULT_FILES)})")
            continue
        for folder, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "tb")
            here = Path(folder)
            present = [name for name in _RESULT_FILES if name in filenames]
            for name in present:
                _read_result(found, here / name, seen)
            if not present and (here / ".hydra").is_dir():
                job, overrides = _hydra_job(here)
                if job in _HYDRA_JOBS:
                    what = " ".join(overrides) or "no overrides"
                    found.missing.append(
                        f"{here}: a {job} run without {_HYDRA_JOBS[job]} (failed or unfinished; {what})"
                    )
        after = (len(found.c2st), len(found.reconstruction), len(found.training), len(found.missing))
        if after == before:
            found.missing.append(f"{raw}: no c2st.json, reconstruction.json or training metrics.json in it")
    _add_referenced_training(found, seen)
    _dedupe(found)
    for run in found.training:
        if run.status != "done":
            found.notes.append(f"training run {run.run_dir} is {run.status} at iteration {run.iteration}")
        if run.sample is None:
            found.missing.append(f"{run.run_dir}: training run without samples/iter_<N>.png")
    return found


def _read_result(found: Collected, path: Path, seen: set[Path], referenced: bool = False) -> None:
    resolved = path.resolve()
    if resolved in seen:
        return
    seen.add(resolved)
    try:
        data = json.loads(path.read_text())
        mtime = path.stat().st_mtime
    except (OSError, ValueError) as exc:
        found.missing.append(f"{path}: unreadable ({type(exc).__name__}: {exc})")
        return
    try:
        if not isinstance(data, dict):
            raise TypeError(f"holds a {type(data).__name__}, not an object")
        if path.name == "c2st.json":
            found.c2st.append(parse_c2st(data, path, mtime))
        elif path.name == "reconstruction.json":
            found.reconstruction.append(parse_reconstruction(data, path, mtime))
        else:
            found.training.append(parse_training(data, path.parent, referenced))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        found.missing.append(f"{path}: {exc}")


def _add_referenced_training(found: Collected, seen: set[Path]) -> None:
    runs = {r.generator_run for r in found.c2st if r.generator_run} | {r.generator_run for r in found.reconstruction}
    for run in sorted(runs):
        metrics = Path(run) / "metrics.json"
        if metrics.is_file() and metrics.resolve() not in seen:
            _read_result(found, metrics, seen, referenced=True)


def _dedupe(found: Collected) -> None:
    """One C2ST result per (setting, split): the newest file wins, the others are noted."""
    best: dict[tuple[Any, ...], C2STRecord] = {}
    for rec in sorted(found.c2st, key=lambda r: (r.mtime, str(r.source))):
        key = _c2st_key(rec)
        if key in best:
            found.notes.append(f"{best[key].source} is superseded by the newer {rec.source} (same setting and split)")
        best[key] = rec
    found.c2st = sorted(best.values(), key=lambda r: str(r.source))


def _c2st_key(r: C2STRecord) -> tuple[Any, ...]:
    if r.mode == "real_vs_real":
        return (r.mode, r.loss, r.set_a, r.classes_a, r.set_b, r.classes_b, r.split)
    return (r.mode, r.loss, r.generator_run, r.iteration, r.real_classes, r.split)


def _mixed_settings(records: Sequence[C2STRecord]) -> list[str]:
    names = ("iterations", "batch_size", "ndf", "eval_passes")
    out = []
    for i, name in enumerate(names):
        values = sorted({str(r.settings[i]) for r in records if len(r.settings) > i})
        if len(values) > 1:
            out.append(f"the critics differ in {name}: {', '.join(values)}")
    return out


# --------------------------------------------------------------------------- Table 1 and baseline
@dataclass
class Table1:
    """Real vs real, class A of ``set_a`` against class B of ``set_b``, one eval loss."""

    loss: str
    set_a: str
    set_b: str
    classes: list[str]
    cells: dict[tuple[str, str], Cell]
    row_min: dict[str, str]
    missing: list[tuple[str, str]]
    sources: list[Path]
    notes: list[str]


def _is_pair(r: C2STRecord) -> bool:
    return r.mode == "real_vs_real" and len(r.classes_a) == 1 and len(r.classes_b) == 1


def table1(collected: Collected, loss: str = "wgangp", sets: tuple[str, str] = ("train", "test")) -> Table1 | None:
    """The class-pair grid for one eval loss and one pair of sets (class A from ``sets[0]``)."""
    records = [r for r in collected.c2st if _is_pair(r) and r.loss == loss and (r.set_a, r.set_b) == sets]
    if not records:
        return None
    classes = class_order([c for r in records for c in (*r.classes_a, *r.classes_b)])
    pairs: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for r in records:
        pairs.setdefault((r.classes_a[0], r.classes_b[0]), []).append((r.split, r.score))
    cells = {k: make_cell(v) for k, v in pairs.items()}
    missing = [(a, b) for a in classes for b in classes if (a, b) not in cells]
    return Table1(
        loss=loss, set_a=sets[0], set_b=sets[1], classes=classes, cells=cells,
        row_min=row_minima(cells, classes, classes), missing=missing, sources=[r.source for r in records],
        notes=_mixed_settings(records),
    )  # fmt: skip


def table1_all(collected: Collected, losses: Sequence[str] | None = None) -> list[Table1]:
    """Every Table 1 present: one per eval loss and pair of sets (train/test first)."""
    records = [r for r in collected.c2st if _is_pair(r) and (losses is None or r.loss in losses)]
    tables = []
    for loss in loss_order(r.loss for r in records):
        combos = sorted(
            {(str(r.set_a), str(r.set_b)) for r in records if r.loss == loss}, key=lambda s: (s != ("train", "test"), s)
        )
        for sets in combos:
            t = table1(collected, loss, sets)
            if t is not None:
                tables.append(t)
    return tables


@dataclass
class BaselineRow:
    """Real vs real with several classes in a set (the paper's 6-class baseline), one loss."""

    loss: str
    set_a: str
    classes_a: tuple[str, ...]
    set_b: str
    classes_b: tuple[str, ...]
    cell: Cell
    sources: list[Path]


def baseline(collected: Collected, losses: Sequence[str] | None = None) -> list[BaselineRow]:
    """Mean and std over splits of every multi-class real-vs-real setting, per loss."""
    groups: dict[tuple[Any, ...], list[C2STRecord]] = {}
    for r in collected.c2st:
        if r.mode == "real_vs_real" and not _is_pair(r) and (losses is None or r.loss in losses):
            groups.setdefault((r.loss, r.set_a, r.classes_a, r.set_b, r.classes_b), []).append(r)
    ranks = {loss: i for i, loss in enumerate(loss_order(k[0] for k in groups))}
    rows = [
        BaselineRow(
            loss=k[0],
            set_a=str(k[1]),
            classes_a=k[2],
            set_b=str(k[3]),
            classes_b=k[4],
            cell=make_cell((r.split, r.score) for r in v),
            sources=[r.source for r in v],
        )
        for k, v in groups.items()
    ]
    return sorted(rows, key=lambda row: (ranks[row.loss], -len(set(row.classes_a) | set(row.classes_b)), row.set_a))


def baseline_for(rows: Sequence[BaselineRow], loss: str) -> BaselineRow | None:
    """The baseline of one loss to draw in Figure 8: the one covering the most classes."""
    mine = [r for r in rows if r.loss == loss]
    return max(mine, key=lambda r: len(set(r.classes_a) | set(r.classes_b))) if mine else None


# --------------------------------------------------------------------------- Table 2
@dataclass
class ModelRow:
    """One trained generator (run) in a fake-vs-real table at one generator iteration."""

    model: str
    train_loss: str
    run: str
    label: str
    iteration: int | None
    #: class -> Cell, plus "mean" (the run's score, the mean over classes)
    cells: dict[str, Cell]
    sources: list[Path]
    other_iterations: list[int]


@dataclass
class Table2:
    """Fake vs real of conditional generators, per class, one eval loss."""

    loss: str
    classes: list[str]
    rows: list[ModelRow]
    notes: list[str]


def _labels(keys: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
    """``model/loss``, with the run folder's name added where two runs would share a label."""
    runs: dict[tuple[str, str], set[str]] = {}
    for model, loss, run in keys:
        runs.setdefault((model, loss), set()).add(run)
    return {
        k: f"{k[0]}/{k[1]}" + (f" ({Path(k[2]).name or k[2]})" if len(runs[(k[0], k[1])]) > 1 else "") for k in keys
    }


def _run_groups(records: Iterable[C2STRecord]) -> dict[tuple[str, str, str], list[C2STRecord]]:
    groups: dict[tuple[str, str, str], list[C2STRecord]] = {}
    for r in records:
        groups.setdefault((str(r.model), str(r.train_loss), str(r.generator_run)), []).append(r)
    return dict(
        sorted(groups.items(), key=lambda kv: (_rank(MODEL_ORDER, kv[0][0]), _rank(LOSS_ORDER, kv[0][1]), kv[0]))
    )


def _iteration_key(it: int | None) -> int:
    return -1 if it is None else it


def table2(collected: Collected, loss: str) -> Table2 | None:
    """Conditional generators judged with eval loss ``loss``, each at its latest iteration."""
    records = [r for r in collected.c2st if r.mode == "fake_vs_real" and r.per_class is not None and r.loss == loss]
    if not records:
        return None
    groups = _run_groups(records)
    labels = _labels(list(groups))
    rows, seen_classes, notes = [], [], []
    for key, recs in groups.items():
        latest = max((r.iteration for r in recs), key=_iteration_key)
        use = [r for r in recs if r.iteration == latest]
        per: dict[str, list[tuple[int, float]]] = {}
        for r in use:
            for name, value in (r.per_class or {}).items():
                per.setdefault(name, []).append((r.split, value))
                seen_classes.append(name)
        cells = {name: make_cell(v) for name, v in per.items()}
        cells["mean"] = make_cell((r.split, r.score) for r in use)
        others = sorted({_iteration_key(r.iteration) for r in recs} - {_iteration_key(latest)})
        rows.append(ModelRow(key[0], key[1], key[2], labels[key], latest, cells, [r.source for r in use], others))
        if others:
            notes.append(f"{labels[key]}: iteration {latest} shown; also evaluated at {', '.join(map(str, others))}")
    return Table2(loss=loss, classes=class_order(seen_classes), rows=rows, notes=notes + _mixed_settings(records))


def table2_all(collected: Collected, losses: Sequence[str] | None = None) -> list[Table2]:
    present = {r.loss for r in collected.c2st if r.mode == "fake_vs_real" and r.per_class is not None}
    out = [table2(collected, loss) for loss in loss_order(present) if losses is None or loss in losses]
    return [t for t in out if t is not None]


# --------------------------------------------------------------------------- Table 3
@dataclass
class ReconstructionRow:
    model: str
    train_loss: str
    optimise: str
    run: str
    label: str
    iteration: int | None
    stats: dict[str, dict[str, float]]
    source: Path
    #: other reconstruction results of the same row, not shown (older iteration or file)
    superseded: list[Path]
    panels: dict[str, Path] = field(default_factory=dict)


@dataclass
class Table3:
    classes: list[str]
    rows: list[ReconstructionRow]
    notes: list[str]


def table3(collected: Collected) -> Table3 | None:
    """Reconstruction error per (model, training loss, optimisation): the latest result of each."""
    if not collected.reconstruction:
        return None
    groups: dict[tuple[str, str, str, str], list[ReconstructionRecord]] = {}
    for r in collected.reconstruction:
        groups.setdefault((r.model, r.train_loss, r.optimise, r.generator_run), []).append(r)
    order = sorted(groups, key=lambda k: (_rank(MODEL_ORDER, k[0]), _rank(LOSS_ORDER, k[1]), k[2] != "joint", k))
    labels = _labels([(k[0], k[1], k[3]) for k in order])
    rows, notes = [], []
    for key in order:
        recs = sorted(groups[key], key=lambda r: (_iteration_key(r.iteration), r.mtime, str(r.source)))
        use = recs[-1]
        label = labels[(key[0], key[1], key[3])]
        rows.append(
            ReconstructionRow(
                key[0],
                key[1],
                key[2],
                key[3],
                label,
                use.iteration,
                use.stats,
                use.source,
                [r.source for r in recs[:-1]],
                use.panels,
            )
        )
        if len(recs) > 1:
            notes.append(
                f"{label} ({key[2]}): {len(recs)} reconstruction results share this row; the latest "
                f"(generator iteration {use.iteration}, {use.source}) is shown"
            )
    classes = class_order(c for r in collected.reconstruction for c in r.classes)
    return Table3(classes=classes, rows=rows, notes=notes)


# --------------------------------------------------------------------------- Figure 8 curves
@dataclass
class CurvePoint:
    iteration: int
    cell: Cell


@dataclass
class Curve:
    """Scores of one generator run against its training iteration, one eval loss."""

    loss: str
    model: str
    train_loss: str
    run: str
    label: str
    points: list[CurvePoint]


def curves(
    collected: Collected, conditional: bool = False, losses: Sequence[str] | None = None
) -> dict[str, list[Curve]]:
    """Per eval loss, one curve per run: joint generators (``per_class`` null), or conditional
    ones (their score, the mean over classes)."""
    records = [
        r
        for r in collected.c2st
        if r.mode == "fake_vs_real"
        and (r.per_class is not None) == conditional
        and r.iteration is not None
        and (losses is None or r.loss in losses)
    ]
    out: dict[str, list[Curve]] = {}
    for loss in loss_order(r.loss for r in records):
        groups = _run_groups(r for r in records if r.loss == loss)
        labels = _labels(list(groups))
        for key, recs in groups.items():
            by_it: dict[int, list[tuple[int, float]]] = {}
            for r in recs:
                by_it.setdefault(int(r.iteration or 0), []).append((r.split, r.score))
            points = [CurvePoint(it, make_cell(v)) for it, v in sorted(by_it.items())]
            out.setdefault(loss, []).append(Curve(loss, key[0], key[1], key[2], labels[key], points))
    return out


def _new_figure(width: float, height: float) -> Any:
    # the object-oriented API draws with Agg without touching pyplot's global backend
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save_figure(fig: Any, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write(path, lambda f: f.write(buf.getvalue()))
    return path


def figure8(
    by_loss: dict[str, list[Curve]], base_rows: Sequence[BaselineRow], path: str | Path, conditional: bool = False
) -> Path | None:
    """Score against generator iteration (``by_loss`` from :func:`curves`): a panel per eval
    loss, median over splits with the 10-90 % band per run, and the real-vs-real baseline's
    median (from ``base_rows``) as a dashed line.  ``None`` when there is no curve."""
    from matplotlib.ticker import NullLocator

    if not by_loss:
        return None
    fig = _new_figure(max(6.0, 5.2 * len(by_loss)), 4.4)
    axes = fig.subplots(1, len(by_loss), squeeze=False)[0]
    for ax, (loss, lines) in zip(axes, by_loss.items(), strict=True):
        for i, curve in enumerate(lines):
            color = f"C{i % 10}"
            its = [p.iteration for p in curve.points]
            ax.plot(its, [p.cell.median for p in curve.points], "o-", color=color, label=curve.label, ms=4)
            ax.fill_between(
                its, [p.cell.percentile(10) for p in curve.points], [p.cell.percentile(90) for p in curve.points],
                color=color, alpha=0.2, linewidth=0,
            )  # fmt: skip
        base = baseline_for(base_rows, loss)
        if base is not None:
            ax.axhline(base.cell.median, color="k", ls="--", lw=1, label=f"real vs real ({base.cell.n} splits)")
        all_its = sorted({p.iteration for c in lines for p in c.points})
        ax.set_xscale("log" if all_its[0] > 0 else "symlog", **({} if all_its[0] > 0 else {"linthresh": 1}))
        if len(all_its) <= 14:  # the checkpoints themselves as ticks, as on the paper's schedule
            ax.set_xticks(all_its, labels=[_short_count(i) for i in all_its])
            ax.xaxis.set_minor_locator(NullLocator())
        ax.set_title(f"eval loss {loss_label(loss)}")
        ax.set_xlabel("generator iteration")
        ax.set_ylabel("C2ST score (mean over classes)" if conditional else "C2ST score")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize="small", title="model/train loss", title_fontsize="small")
    kind = "conditional" if conditional else "joint"
    fig.suptitle(f"Fake vs real C2ST, {kind} generators\nmedian and 10-90 % band over splits", fontsize="medium")
    return _save_figure(fig, Path(path))


def _short_count(n: int) -> str:
    """1000 -> 1k, 500000 -> 500k: tick labels that fit."""
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def sample_figure(runs: Sequence[TrainingRun], labels: dict[Path, str], path: str | Path) -> Path | None:
    """Each training run's latest sample grid, titled ``model/loss @ iteration``."""
    from matplotlib.image import imread

    shown = [r for r in runs if r.sample is not None]
    if not shown:
        return None
    cols = min(3, len(shown))
    nrows = -(-len(shown) // cols)
    fig = _new_figure(4.6 * cols, 3.6 * nrows)
    axes = fig.subplots(nrows, cols, squeeze=False).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, run in zip(axes, shown, strict=False):
        assert run.sample is not None
        ax.imshow(imread(str(run.sample)), interpolation="nearest")
        ax.set_title(labels[run.run_dir], fontsize="small")
    return _save_figure(fig, Path(path))


# --------------------------------------------------------------------------- formatting
def fmt_mean_std(cell: Cell | None, digits: int = 2, n: bool = True) -> str:
    """``mean ± std (n)``; ``-`` for an empty cell."""
    if cell is None or not cell.n:
        return "-"
    text = f"{cell.mean:.{digits}f} ± {cell.std:.{digits}f}"
    return f"{text} ({cell.n})" if n else text


def fmt_median_mad(stats: dict[str, float] | None, key: str, digits: int = 2) -> str:
    if not stats or stats.get(f"{key}_median") is None or math.isnan(stats[f"{key}_median"]):
        return "-"
    return f"{stats[f'{key}_median']:.{digits}f} ± {stats.get(f'{key}_mad', math.nan):.{digits}f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(r) for r in rows)]) + "\n"


def _num(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_num(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in row])
    atomic_write(path, lambda f: f.write(buf.getvalue().encode()))
    return path


_INT_COLUMNS = {"n", "iteration", "row_min"}
_FLOAT_COLUMNS = {
    "mean", "std", "median", "p10", "p90", "l2_median", "l2_mad", "nll_median", "nll_mad", "nll_init_median",
    "neighbour_l2_median",
}  # fmt: skip


def read_table_csv(path: str | Path) -> list[dict[str, Any]]:
    """A report CSV as dicts: numeric columns as numbers, empty cells as ``None``."""
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            out: dict[str, Any] = {}
            for key, value in row.items():
                if value == "":
                    out[key] = None
                elif key in _INT_COLUMNS:
                    out[key] = int(value)
                elif key in _FLOAT_COLUMNS:
                    out[key] = float(value)
                else:
                    out[key] = value
            rows.append(out)
    return rows


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


# --------------------------------------------------------------------------- writing tables
def _table1_files(t: Table1, out: Path, digits: int) -> tuple[str, str, str]:
    suffix = t.loss if (t.set_a, t.set_b) == ("train", "test") else f"{t.loss}_{t.set_a}-{t.set_b}"
    name = f"table1_{suffix}"
    header = [f"A ({t.set_a}) \\ B ({t.set_b})", *t.classes]
    rows = []
    for a in t.classes:
        cells = []
        for b in t.classes:
            text = fmt_mean_std(t.cells.get((a, b)), digits)
            cells.append(f"**{text}**" if t.row_min.get(a) == b else text)
        rows.append([a, *cells])
    md = markdown_table(header, rows)
    write_csv(
        out / f"{name}.csv",
        ["loss", "set_a", "set_b", "class_a", "class_b", "mean", "std", "n", "splits", "row_min"],
        [
            [t.loss, t.set_a, t.set_b, a, b, cell.mean if cell else None, cell.std if cell else None,
             cell.n if cell else 0, ";".join(map(str, cell.splits)) if cell else "", int(t.row_min.get(a) == b)]
            for a in t.classes for b in t.classes for cell in [t.cells.get((a, b))]
        ],
    )  # fmt: skip
    atomic_write(out / f"{name}.md", lambda f: f.write(md.encode()))
    caption = (
        f"Table 1 ({loss_label(t.loss)} critic): real vs real, class A from the {t.set_a} set's splits against "
        f"class B from the {t.set_b} set's splits; mean ± std over splits (n); bold: the row's minimum."
    )
    return name, caption, md


def _baseline_files(rows: Sequence[BaselineRow], out: Path, digits: int) -> tuple[str, str, str]:
    def classes(names: Sequence[str]) -> str:
        return ", ".join(names)

    md = markdown_table(
        ["eval loss", "set a", "classes a", "set b", "classes b", "mean ± std (n)"],
        [
            [
                loss_label(r.loss),
                r.set_a,
                classes(r.classes_a),
                r.set_b,
                classes(r.classes_b),
                fmt_mean_std(r.cell, digits),
            ]
            for r in rows
        ],
    )
    write_csv(
        out / "baseline.csv",
        ["loss", "set_a", "classes_a", "set_b", "classes_b", "mean", "std", "n", "median", "splits"],
        [
            [r.loss, r.set_a, ";".join(r.classes_a), r.set_b, ";".join(r.classes_b), r.cell.mean, r.cell.std,
             r.cell.n, r.cell.median, ";".join(map(str, r.cell.splits))]
            for r in rows
        ],
    )  # fmt: skip
    atomic_write(out / "baseline.md", lambda f: f.write(md.encode()))
    caption = (
        "Real-vs-real baseline: several classes in each set; mean ± std over splits (n). "
        "The paper (6 classes, a = test, b = train): GAN -3.71 ± 0.72, WGAN 0.00 ± 0.00, WGAN-GP -0.73 ± 0.64."
    )
    return "baseline", caption, md


def _table2_files(t: Table2, out: Path, digits: int) -> tuple[str, str, str]:
    name = f"table2_{t.loss}"
    columns = [*t.classes, "mean"]
    md = markdown_table(
        ["model / train loss", "iteration", *columns],
        [[r.label, str(r.iteration), *(fmt_mean_std(r.cells.get(c), digits) for c in columns)] for r in t.rows],
    )
    write_csv(
        out / f"{name}.csv",
        ["eval_loss", "model", "train_loss", "run", "iteration", "class", "mean", "std", "n", "splits"],
        [
            [t.loss, r.model, r.train_loss, r.run, r.iteration, c, cell.mean if cell else None,
             cell.std if cell else None, cell.n if cell else 0, ";".join(map(str, cell.splits)) if cell else ""]
            for r in t.rows for c in columns for cell in [r.cells.get(c)]
        ],
    )  # fmt: skip
    atomic_write(out / f"{name}.md", lambda f: f.write(md.encode()))
    caption = (
        f"Table 2 ({loss_label(t.loss)} critic): fake vs real per class for conditional generators at their latest "
        "evaluated iteration; mean ± std over splits (n); 'mean' is the run's score, the mean over classes."
    )
    return name, caption, md


def _table3_files(t: Table3, out: Path, digits: int) -> tuple[str, str, str]:
    columns = [*t.classes, "overall"]
    parts = []
    for key, title in (("l2", "L2 error"), ("nll", "NLL of the latent")):
        rows = [
            [r.label, r.optimise, str(r.iteration), *(fmt_median_mad(r.stats.get(c), key, digits) for c in columns)]
            for r in t.rows
        ]
        parts.append(
            f"{title}, median ± MAD:\n\n"
            + markdown_table(["model / train loss", "optimise", "iteration", *columns], rows)
        )
    md = "\n".join(parts)
    write_csv(
        out / "table3.csv",
        ["model", "train_loss", "optimise", "run", "iteration", "class", "n", "l2_median", "l2_mad", "nll_median",
         "nll_mad", "nll_init_median", "neighbour_l2_median", "source"],
        [
            [r.model, r.train_loss, r.optimise, r.run, r.iteration, c, _int_or_none(s.get("n")),
             *(s.get(k) for k in _STAT_KEYS[1:]), str(r.source)]
            for r in t.rows for c in columns for s in [r.stats.get(c) or {}]
        ],
    )  # fmt: skip
    atomic_write(out / "table3.md", lambda f: f.write(md.encode()))
    caption = (
        "Table 3: reconstruction of the test images through the latent space, per class and overall; "
        "median ± MAD over images of the L2 error ([0, 1] pixels) and of the latent's negative log-likelihood."
    )
    return "table3", caption, md


def _int_or_none(value: float | None) -> int | None:
    return None if value is None or math.isnan(value) else int(value)


def _curves_csv(by_loss: dict[str, list[Curve]], path: Path) -> Path:
    return write_csv(
        path,
        ["eval_loss", "model", "train_loss", "run", "iteration", "n", "median", "p10", "p90", "mean", "std"],
        [
            [c.loss, c.model, c.train_loss, c.run, p.iteration, p.cell.n, p.cell.median, p.cell.percentile(10),
             p.cell.percentile(90), p.cell.mean, p.cell.std]
            for lines in by_loss.values() for c in lines for p in c.points
        ],
    )  # fmt: skip


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "run"


# --------------------------------------------------------------------------- the report
def render_report(
    paths: Iterable[str | Path],
    out: str | Path,
    title: str = "biogans evaluation report",
    losses: Sequence[str] | None = None,
    digits: int = 2,
) -> dict[str, Any]:
    """Collect the results under ``paths`` and write every table and figure into ``out``.

    Returns what ``report.json`` holds.  Raises :class:`ReportError` when nothing at all was
    found (no report is written then); anything less is listed in the report, not fatal.
    """
    found = collect(paths)
    if found.empty:
        detail = "; ".join(found.missing) or "nothing under them"
        raise ReportError(
            f"no results found under {', '.join(found.roots) or '(no paths)'}: {detail}. "
            "Give run directories (or folders above them) holding c2st.json, reconstruction.json or metrics.json."
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    losses = list(losses) if losses else None
    sections: list[str] = []
    tables: dict[str, dict[str, Any]] = {}
    figures: dict[str, str] = {}
    missing = list(found.missing)
    notes = list(found.notes)

    def add_table(name: str, caption: str, md: str, sources: Iterable[Path], extra: list[str]) -> None:
        tables[name] = {"markdown": f"{name}.md", "csv": f"{name}.csv", "sources": sorted({str(s) for s in sources})}
        body = f"{caption}\n\n{md}"
        if extra:
            body += "\n" + "".join(f"- {x}\n" for x in extra)
        sections.append(body)

    sections.append("## Table 1: real vs real\n")
    t1s = table1_all(found, losses)
    for t in t1s:
        name, caption, md = _table1_files(t, out, digits)
        cells_missing = [f"{a} vs {b}" for a, b in t.missing]
        if cells_missing:
            missing.append(f"{name}: no results for {len(cells_missing)} cells: {', '.join(cells_missing)}")
        extra = list(t.notes) + ([f"missing cells (-): {', '.join(cells_missing)}"] if cells_missing else [])
        add_table(name, caption, md, t.sources, extra)
    if not t1s:
        sections.append("No real-vs-real results with one class per set were found.\n")

    sections.append("## Real-vs-real baseline\n")
    base = baseline(found, losses)
    if base:
        name, caption, md = _baseline_files(base, out, digits)
        add_table(name, caption, md, [s for r in base for s in r.sources], [])
    else:
        sections.append("No real-vs-real results with several classes per set were found.\n")

    sections.append("## Table 2: fake vs real, conditional generators\n")
    t2s = table2_all(found, losses)
    for t in t2s:
        name, caption, md = _table2_files(t, out, digits)
        add_table(name, caption, md, [s for r in t.rows for s in r.sources], t.notes)
    if not t2s:
        sections.append("No fake-vs-real results of conditional generators were found.\n")

    sections.append("## Table 3: reconstruction\n")
    panels: list[str] = []
    t3 = table3(found)
    if t3 is not None:
        name, caption, md = _table3_files(t3, out, digits)
        add_table(name, caption, md, [r.source for r in t3.rows], t3.notes)
        panels = _copy_panels(t3, out)
        if panels:
            sections.append(
                "Panels (rows: target | reconstruction | initial reconstruction | nearest training image):\n\n"
                + "".join(f"- {line}\n" for line in panels)
            )
    else:
        sections.append("No reconstruction results were found.\n")

    sections.append("## Figure 8: C2ST score against generator iteration\n")
    for key, conditional, what in (("figure8", False, "joint"), ("figure8_conditional", True, "conditional")):
        by_loss = curves(found, conditional, losses)
        if conditional and not any(len(c.points) > 1 for lines in by_loss.values() for c in lines):
            continue  # a single iteration per run is Table 2 already
        if figure8(by_loss, base, out / f"{key}.png", conditional) is None:
            sections.append(f"No fake-vs-real results of {what} generators were found.\n")
            continue
        _curves_csv(by_loss, out / f"{key}.csv")
        figures[key] = f"{key}.png"
        tables[key] = {
            "csv": f"{key}.csv",
            "sources": sorted({str(r.source) for r in found.c2st if r.mode == "fake_vs_real" and
                               (r.per_class is not None) == conditional and (losses is None or r.loss in losses)}),
        }  # fmt: skip
        sections.append(
            f"![Figure 8, {what} generators]({key}.png)\n\n"
            f"Fake vs real C2ST of {what} generators against the generator's training iteration: median over splits, "
            "band from the 10th to the 90th percentile, dashed: the real-vs-real baseline's median for that loss. "
            f"Data: [{key}.csv]({key}.csv).\n"
        )

    sections.append("## Samples of the training runs\n")
    samples = _write_samples(found, out, figures)
    if samples:
        sections.append("![latest samples](samples.png)\n\n" + "".join(f"- {s}\n" for s in samples))
    else:
        sections.append("No training runs with sample grids were found.\n")

    sections.append("## Missing\n")
    sections.append("".join(f"- {m}\n" for m in missing) if missing else "Nothing missing.\n")
    if notes:
        sections.append("## Notes\n")
        sections.append("".join(f"- {n}\n" for n in notes))

    created = time.strftime("%Y-%m-%d %H:%M:%S")
    header = (
        f"# {title}\n\n"
        f"Made {created} from {len(found.c2st)} C2ST results, {len(found.reconstruction)} reconstruction results "
        f"and {len(found.training)} training runs found under: {', '.join(f'`{r}`' for r in found.roots)}. "
        "Scores are minus the critic's loss on held-out images: lower means harder to tell apart "
        "(for fake vs real: a better generator); "
        "std is over splits (ddof=0).\n"
    )
    report_md = header + "\n" + "\n".join(sections)
    atomic_write(out / "report.md", lambda f: f.write(report_md.encode()))
    summary = {
        "format": REPORT_FORMAT,
        "title": title,
        "created": created,
        "out": str(out.resolve()),
        "roots": found.roots,
        "found": {
            "c2st": [str(r.source) for r in found.c2st],
            "reconstruction": [str(r.source) for r in found.reconstruction],
            "training": [str(r.run_dir) for r in found.training],
        },
        "tables": tables,
        "figures": figures,
        "samples": samples,
        "panels": panels,
        "missing": missing,
        "notes": notes,
    }
    write_json(out / "report.json", summary)
    return summary


def _copy_panels(t: Table3, out: Path) -> list[str]:
    """Copy the reconstruction panels of the rows shown into ``out/panels``; one Markdown line per row."""
    lines = []
    for r in t.rows:
        links = []
        folder = f"{_safe_name(r.label)}_{_safe_name(r.optimise)}"
        for name, src in r.panels.items():
            if src.is_file():
                (out / "panels" / folder).mkdir(parents=True, exist_ok=True)
                dest = f"panels/{folder}/{_safe_name(name)}.png"
                shutil.copyfile(src, out / dest)
                links.append(f"[{name}]({dest})")
        if links:
            lines.append(f"{r.label} ({r.optimise}): " + ", ".join(links))
    return lines


def _write_samples(found: Collected, out: Path, figures: dict[str, str]) -> list[str]:
    """Copy each run's latest grid into ``out/samples`` and draw them side by side."""
    runs = sorted(
        found.training, key=lambda r: (_rank(MODEL_ORDER, r.model), _rank(LOSS_ORDER, r.loss), str(r.run_dir))
    )
    labels = _labels([(r.model, r.loss, str(r.run_dir)) for r in runs])
    titles, lines = {}, []
    for r in runs:
        if r.sample is None:
            continue
        label = labels[(r.model, r.loss, str(r.run_dir))]
        titles[r.run_dir] = f"{label} @ iteration {r.sample_iteration}" + (
            "" if r.status == "done" else f" ({r.status})"
        )
        name = f"{_safe_name(label)}_iter_{r.sample_iteration:07d}.png"
        (out / "samples").mkdir(exist_ok=True)
        shutil.copyfile(r.sample, out / "samples" / name)
        lines.append(
            f"[{label} @ iteration {r.sample_iteration}](samples/{name}) ({r.status}, run {r.run_dir}"
            + (", referenced by a result" if r.referenced else "")
            + ")"
        )
    if sample_figure(runs, titles, out / "samples.png") is not None:
        figures["samples"] = "samples.png"
    return lines


def summary_line(summary: dict[str, Any]) -> str:
    """The one line the command prints."""
    n_tables = sum(1 for t in summary["tables"].values() if "markdown" in t)
    return (
        f"report: {n_tables} tables, {len(summary['figures'])} figures from {len(summary['found']['c2st'])} C2ST, "
        f"{len(summary['found']['reconstruction'])} reconstruction results and "
        f"{len(summary['found']['training'])} training runs; {len(summary['missing'])} missing -> "
        f"{Path(summary['out']) / 'report.md'}"
    )
