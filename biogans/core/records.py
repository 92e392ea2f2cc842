"""Result records: what every task writes into its run directory, typed and versioned.

Every task leaves one JSON file in its run directory (:data:`RECORD_FILES`), read back by
the task contract (:mod:`biogans.tasks.contract`: is this run done, with which config?)
and by the report (:mod:`biogans.tasks.reporting`).  Both go through this module, so the
file layout is declared once, here, as dataclasses:

* every record has ``format`` (``biogans-<name>-v<version>``), ``status`` (one of
  :data:`STATUSES`), ``config`` (the task's resolved config as plain data, ``None`` in files
  of the previous release, which did not record it) and ``error`` (the message of a failed
  run);
* the task's results follow, with the same keys as the previous release's files; a record
  that is not ``done`` may lack them, a ``done`` one may not (:attr:`Record.REQUIRED`).

Versions: v2 (this release) adds ``status``/``config``/``error`` to every file and a
format tag to those that had none.  Files of the previous release (v1: tagged
``biogans-c2st-v1``, ``biogans-reconstruction-v1``, ``biogans-report-v1``; untagged
``metrics.json``, ``prepare.json`` and ``interpolation.json``) are still read: they become
records with ``config=None`` (and ``status="done"`` where the file was only ever written on
success), so reports over old sweeps keep working.  Any other format is refused with a
message naming the file and the formats this release reads.

Hydra-free on purpose (the core imports neither Hydra nor OmegaConf, nor torch): a sweep
launcher reads hundreds of records quickly.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, TypeVar, Union

from biogans.core.errors import BiogansError
from biogans.core.files import write_json

#: The life of a run: written ``running`` before the work starts, then one of the others.
STATUSES = ("running", "done", "failed", "interrupted")

#: tool -> the record file it writes into its run directory.
RECORD_FILES = {
    "train": "metrics.json",
    "prepare": "prepare.json",
    "c2st": "c2st.json",
    "reconstruct": "reconstruction.json",
    "interpolate": "interpolation.json",
    "report": "report.json",
    "bench": "bench.json",
}

_FORMAT_RE = re.compile(r"^biogans-([a-z0-9_]+)-v(\d+)$")
R = TypeVar("R", bound="Record")


class RecordError(BiogansError):
    """A record file is unreadable, malformed, or of a format this release does not read."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


# --------------------------------------------------------------------------- summaries
def median_mad(values: Sequence[float]) -> tuple[float, float]:
    """Median and median absolute deviation (unscaled: no 1.4826 factor), as the paper's Table 3.

    Medians of an even count average the two middle values.  Robust statistics, because a
    few trials that diverge or images a model cannot reach at all would dominate a mean.
    The reconstruction tool and the report both summarise with this one function.
    """
    data = [float(v) for v in values]
    if not data:
        raise ValueError("median_mad needs at least one value")
    median = statistics.median(data)
    return median, statistics.median(abs(v - median) for v in data)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile with linear interpolation between ranks (numpy's default)."""
    data = sorted(float(v) for v in values)
    if not data:
        return math.nan
    rank = q / 100 * (len(data) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (rank - low)


# --------------------------------------------------------------------------- parts of records
@dataclass
class GeneratorInfo:
    """The generator a result judged: its file, family, the iteration and training loss of
    its checkpoint (``None`` for a 2017 file) and its training run directory, if it has one."""

    path: str
    model: str | None = None
    kind: str | None = None
    iteration: int | None = None
    train_loss: str | None = None
    run_dir: str | None = None


@dataclass
class SetClasses:
    """Real images of one side of a two-sample test: which set, which classes."""

    set: str
    classes: list[str] = field(default_factory=list)


@dataclass
class Separation:
    """How well a two-sample critic tells its sides apart on held-out images
    (:mod:`biogans.core.two_sample_stats`; each distinct held-out image counted once)."""

    #: ROC AUC of the critic's oriented held-out scores (0.5: indistinguishable, 1: fully apart)
    auc: float
    #: one-sided Mann-Whitney U p-value for "no difference" (Fisher-combined over classes overall)
    p_value: float
    #: balanced accuracy of the rule in C2STRecord.accuracy_rule (0.5: chance)
    accuracy: float
    #: distinct held-out images of side a (the real side in fake_vs_real) and of side b
    n_a: int
    n_b: int


@dataclass
class ImageReconstruction:
    """One reconstructed image: its errors at the best trial and its nearest training image."""

    class_: str = field(metadata={"key": "class"})
    file: str = ""
    l2: float | None = None
    l2_init: float | None = None
    nll: float | None = None
    nll_init: float | None = None
    trial: int | None = None
    neighbour: str | None = None
    neighbour_l2: float | None = None


@dataclass
class ReconstructionSummary:
    """Median +- MAD over images (non-finite values left out; ``None`` when none is left)."""

    n: int
    l2_median: float | None = None
    l2_mad: float | None = None
    nll_median: float | None = None
    nll_mad: float | None = None
    nll_init_median: float | None = None
    neighbour_l2_median: float | None = None


@dataclass
class PreparedSet:
    """The split files written for one set (train or test) of a data set."""

    root: str
    classes: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


@dataclass
class RunState:
    """The state of one run directory as a folder scan finds it (the report lists these)."""

    tool: str
    #: a record's status, or "no record" (a Hydra run that was killed before writing one)
    status: str
    path: str
    detail: str = ""
    #: the job's log file, when the run is not done
    log: str | None = None


# --------------------------------------------------------------------------- the records
@dataclass
class Record:
    """What every record has.  Subclasses add the task's results (all optional until done)."""

    #: the tool that writes it (a key of RECORD_FILES), its format name and version
    TOOL: ClassVar[str] = ""
    NAME: ClassVar[str] = ""
    VERSION: ClassVar[int] = 2
    #: how a message calls it ("a biogans C2ST result")
    LABEL: ClassVar[str] = ""
    #: v1 files: their format tag, or None where they had none (metrics.json ...)
    V1_FORMAT: ClassVar[str | None] = None
    #: result fields a ``done`` record must have
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    status: str = "running"
    #: the resolved config (``biogans.config.as_plain``); None: not recorded (a v1 file)
    config: dict[str, Any] | None = None
    error: str | None = None

    @classmethod
    def format_tag(cls) -> str:
        return f"biogans-{cls.NAME}-v{cls.VERSION}"

    @property
    def format(self) -> str:
        return self.format_tag()

    def problems(self) -> str | None:
        """What is wrong with a done record beyond types and required fields (None: nothing)."""
        return None

    def to_dict(self) -> dict[str, Any]:
        """The file's content: format, status, error, the results, then the config."""
        body = _encode(self)
        head = {"format": self.format, "status": body.pop("status"), "error": body.pop("error")}
        config = body.pop("config")
        return {**head, **body, "config": config}


@dataclass
class TrainRecord(Record):
    """``metrics.json``: a training run's progress; rewritten as the run goes."""

    TOOL = "train"
    NAME = "train"
    LABEL = "biogans training metrics.json"
    REQUIRED = ("model", "iterations")

    iteration: int = 0
    iterations: int | None = None
    model: str | None = None
    loss: str | None = None
    dataset: str | None = None
    classes: list[str] = field(default_factory=list)
    device: str | None = None
    seed: int | None = None
    it_per_s: float | None = None
    eta_s: float | None = None
    elapsed_s: float | None = None
    #: the latest loss values read back from the device
    last: dict[str, float] = field(default_factory=dict)
    checkpoint: str | None = None
    checkpoint_iteration: int = 0
    snapshots: list[str] = field(default_factory=list)


@dataclass
class PrepareRecord(Record):
    """``prepare.json``: where the evaluation split files of a data set were written."""

    TOOL = "prepare"
    NAME = "prepare"
    LABEL = "biogans prepare.json"
    REQUIRED = ("splits_dir", "n_splits")

    splits_dir: str | None = None
    n_splits: int | None = None
    sets: dict[str, PreparedSet] = field(default_factory=dict)


@dataclass
class C2STRecord(Record):
    """``c2st.json``: one split scored with one eval loss, fake vs real or real vs real."""

    TOOL = "c2st"
    NAME = "c2st"
    LABEL = "biogans C2ST result"
    V1_FORMAT = "biogans-c2st-v1"
    REQUIRED = ("mode", "score", "loss", "split")

    mode: str | None = None
    #: minus the held-out critic loss (mean over classes for a per-class critic)
    score: float | None = None
    per_class: dict[str, float] | None = None
    loss: str | None = None
    split: int | None = None
    iterations: int | None = None
    batch_size: int | None = None
    ndf: int | None = None
    eval_passes: int | None = None
    seed: int | None = None
    device: str | None = None
    dataset: str | None = None
    #: fake_vs_real: the generator judged and the real side; real_vs_real: sides a and b
    generator: GeneratorInfo | None = None
    real: SetClasses | None = field(default=None, metadata={"omit_none": True})
    a: SetClasses | None = field(default=None, metadata={"omit_none": True})
    b: SetClasses | None = field(default=None, metadata={"omit_none": True})
    #: the batch sizes actually used (smaller than batch_size where a half is small)
    batch_size_used: dict[str, int] | None = None
    eval_batches: int | None = None
    #: beside the score: AUC, p-value, accuracy and counts of the held-out images, overall
    #: and (star-shaped critic) per class; None in files written before they were recorded
    separation: Separation | None = None
    per_class_separation: dict[str, Separation] | None = None
    #: how the accuracy decides: "sign" (GAN logits) or "train-threshold"; what the p-value is
    accuracy_rule: str | None = None
    p_value_test: str | None = None
    train_curve: list[list[float]] = field(default_factory=list)
    elapsed_s: float | None = None

    def setting(self) -> tuple[Any, ...]:
        """What was measured, split included: two results with the same key are the same
        measurement (a rerun), of which a reader keeps the newer."""
        if self.a is not None and self.b is not None:
            return (
                self.mode,
                self.loss,
                self.a.set,
                tuple(self.a.classes),
                self.b.set,
                tuple(self.b.classes),
                self.split,
            )
        g, real = self.generator, tuple(self.real.classes) if self.real else ()
        return (self.mode, self.loss, g.run_dir or g.path if g else None, g.iteration if g else None, real, self.split)

    def problems(self) -> str | None:
        assert self.score is not None
        if not math.isfinite(self.score):
            return f"has a non-finite score {self.score}"
        if self.mode == "real_vs_real":
            return None if self.a is not None and self.b is not None else "has no 'a' or 'b'"
        if self.mode == "fake_vs_real":
            return None if self.generator is not None else "has no 'generator'"
        return f"has an unknown mode {self.mode!r}"


@dataclass
class ReconstructionRecord(Record):
    """``reconstruction.json``: a generator's reconstructions of one set, per image and summarised."""

    TOOL = "reconstruct"
    NAME = "reconstruction"
    LABEL = "biogans reconstruction result"
    V1_FORMAT = "biogans-reconstruction-v1"
    REQUIRED = ("generator", "classes", "per_class", "overall")

    generator: GeneratorInfo | None = None
    optimise: str = "joint"
    set: str | None = None
    trials: int | None = None
    steps: int | None = None
    lr: float | None = None
    max_iter: int | None = None
    seed: int | None = None
    device: str | None = None
    batch_size: int | None = None
    max_images_per_class: int | None = None
    dataset: dict[str, str] | None = None
    classes: list[str] = field(default_factory=list)
    images: list[ImageReconstruction] = field(default_factory=list)
    per_class: dict[str, ReconstructionSummary] | None = None
    overall: ReconstructionSummary | None = None
    #: class -> its panel image, relative to the run directory
    panels: dict[str, str] = field(default_factory=dict)
    elapsed_s: float | None = None

    def problems(self) -> str | None:
        if not self.classes:
            return "has no classes"
        assert self.per_class is not None
        absent = [c for c in self.classes if c not in self.per_class]
        return f"has no summary of class {absent[0]!r}" if absent else None


@dataclass
class InterpolationRecord(Record):
    """``interpolation.json``: a cell-cycle movie, what was rendered and from what."""

    TOOL = "interpolate"
    NAME = "interpolation"
    LABEL = "biogans interpolation.json"
    REQUIRED = ("generator", "files")

    generator: str | None = None
    model: str | None = None
    kind: str | None = None
    seed: int | None = None
    batch_size: int | None = None
    points: list[int] = field(default_factory=list)
    #: "config" (points given) or "seed" (picked with the seed)
    points_from: str | None = None
    steps: int | None = None
    frames: int | None = None
    classes: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    red_from: str | None = None
    image_size: list[int] = field(default_factory=list)
    scale: int | None = None
    caption_height: int | None = None
    frame_ms: int | None = None
    gif_duration_s: float | None = None
    strip_frames: list[int] = field(default_factory=list)
    tiff: dict[str, str] = field(default_factory=dict)
    #: output kind (gif, strip, tiff, json) -> file name in the run directory
    files: dict[str, str] | None = None


@dataclass
class ReportRecord(Record):
    """``report.json``: what a report was made from and which tables and figures it holds."""

    TOOL = "report"
    NAME = "report"
    LABEL = "biogans report.json"
    V1_FORMAT = "biogans-report-v1"
    REQUIRED = ("out",)

    title: str = ""
    created: str = ""
    out: str | None = None
    roots: list[str] = field(default_factory=list)
    #: kind (c2st, reconstruction, training) -> the files or runs used
    found: dict[str, list[str]] = field(default_factory=dict)
    #: name -> {"markdown": file, "csv": file, "sources": [...]}
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    figures: dict[str, str] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    panels: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the state of every run found (new in v2)
    runs: list[RunState] = field(default_factory=list)


@dataclass
class BenchRow:
    """One row of ``bench.json`` (:mod:`biogans.tasks.benchmark`): one operation timed through
    this project's code, the 2017-style reference and the other tower implementation.

    Times are seconds per ``unit`` (the median of ``times``); FLOPs per unit; memory in MiB.
    """

    row: str
    label: str = ""
    #: train, c2st or lbfgs; unit: iteration, critic step, L-BFGS step
    kind: str = ""
    unit: str = ""
    #: the tower implementation this project ran (conditional rows), and the other one
    towers: str | None = None
    seconds: float | None = None
    it_per_s: float | None = None
    reference_seconds: float | None = None
    #: the reference's time over ours: the median over rounds of their ratio
    speedup: float | None = None
    other_towers: str | None = None
    other_seconds: float | None = None
    #: the other implementation's time over ours, likewise
    other_ratio: float | None = None
    flops: int | None = None
    flop_per_s: float | None = None
    peak_memory_mib: float | None = None
    reference_peak_memory_mib: float | None = None
    #: FLOPs per unit at the paper's batch size and widths
    paper_flops: int | None = None
    #: every timed run, per implementation ("fast", "reference", "other")
    times: dict[str, list[float]] = field(default_factory=dict)
    critic_steps: int | None = None
    #: L-BFGS rows: generator evaluations in one step
    evaluations: int | None = None


@dataclass
class GridPart:
    """One part of the paper's grid of runs, costed from the benchmark's rows."""

    what: str
    units: float
    rows: list[str] = field(default_factory=list)
    #: device-hours at this project's rate and at the reference's (None: a row was not measured)
    hours: float | None = None
    reference_hours: float | None = None
    note: str = ""


@dataclass
class BenchGrid:
    """The paper's whole grid of runs in device-hours at both rates."""

    basis: str = ""
    test_images_per_class: int | None = None
    parts: list[GridPart] = field(default_factory=list)
    hours: float | None = None
    reference_hours: float | None = None


@dataclass
class BenchRecord(Record):
    """``bench.json``: ``python -m biogans.bench``'s rows, where it ran, and the paper's grid costed from them."""

    TOOL = "bench"
    NAME = "bench"
    LABEL = "biogans bench.json"
    REQUIRED = ("rows",)

    device: str | None = None
    #: the preset and the sizes used (batch_size, width, warmup, repeats)
    preset: str | None = None
    settings: dict[str, int] = field(default_factory=dict)
    #: torch version, threads, CPU or GPU, load average when it started
    environment: dict[str, Any] = field(default_factory=dict)
    rows: list[BenchRow] | None = None
    grid: BenchGrid | None = None
    elapsed_s: float | None = None


#: tool -> its record class
RECORD_CLASSES: dict[str, type[Record]] = {
    cls.TOOL: cls
    for cls in (TrainRecord, PrepareRecord, C2STRecord, ReconstructionRecord, InterpolationRecord, ReportRecord,
                BenchRecord)
}  # fmt: skip
_CLASS_BY_FILE = {RECORD_FILES[tool]: cls for tool, cls in RECORD_CLASSES.items()}
assert set(RECORD_CLASSES) == set(RECORD_FILES)


def record_path(run_dir: str | Path, tool: str) -> Path:
    """Where ``tool`` keeps its record in ``run_dir``."""
    return Path(run_dir) / RECORD_FILES[tool]


# --------------------------------------------------------------------------- writing and reading
def write_record(run_dir: str | Path, record: Record) -> Path:
    """Write ``record`` into ``run_dir`` under its file name, atomically; returns the path."""
    if record.status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {record.status!r}")
    path = record_path(run_dir, record.TOOL)
    write_json(path, record.to_dict())
    return path


def read_record(path: str | Path, tool: str | None = None) -> Record:
    """The typed record in ``path`` (the tool follows from the file name unless given).

    Raises :class:`RecordError` naming the file when it is unreadable, of an unknown
    format or version, or malformed (a wrong type, a missing result of a done run).
    """
    path = Path(path)
    cls = RECORD_CLASSES.get(tool) if tool is not None else _CLASS_BY_FILE.get(path.name)
    if cls is None:
        raise RecordError(path, f"not a result record (the tools write {', '.join(sorted(_CLASS_BY_FILE))})")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RecordError(path, f"unreadable ({type(exc).__name__}: {exc})") from exc
    try:
        return parse_record(cls, data)
    except _Malformed as exc:
        raise RecordError(path, str(exc)) from None


def parse_record(cls: type[R], data: Any) -> R:
    """A record of class ``cls`` from the file's JSON content (v2, or v1 brought up to v2)."""
    if not isinstance(data, dict):
        raise _Malformed(f"holds a {type(data).__name__}, not an object")
    tag = data.get("format")
    known = [cls.format_tag()] + ([cls.V1_FORMAT] if cls.V1_FORMAT else [])
    if tag == cls.format_tag():
        body = data
    elif (tag is not None and tag == cls.V1_FORMAT) or (tag is None and cls.V1_FORMAT is None and _looks_v1(cls, data)):
        body = {"status": "done", **data, "config": None}  # v1 files were written on success (or carry status)
    else:
        match = _FORMAT_RE.match(str(tag)) if isinstance(tag, str) else None
        other = f", a {match.group(1)} record" if match and match.group(1) != cls.NAME else ""
        raise _Malformed(
            f"is not a {cls.LABEL} (format {tag!r}{other}; this biogans reads {' and '.join(map(repr, known))}"
            f"{' and untagged v1 files' if cls.V1_FORMAT is None else ''})"
        )
    record = _decode_dataclass(cls, {k: v for k, v in body.items() if k != "format"}, "")
    if record.status not in STATUSES:
        raise _Malformed(f"has an unknown status {record.status!r} (one of {', '.join(STATUSES)})")
    if record.status == "done":
        for name in cls.REQUIRED:
            if getattr(record, name) is None:
                raise _Malformed(f"has no {name!r}")
        problem = record.problems()
        if problem:
            raise _Malformed(problem)
    return record


def _looks_v1(cls: type[Record], data: dict[str, Any]) -> bool:
    """Whether untagged ``data`` is a file of the previous release of this kind."""
    expected = {"train": ("status", "iteration", "model"), "prepare": ("splits_dir", "sets"),
                "interpolate": ("generator", "files")}.get(cls.TOOL)  # fmt: skip
    return expected is not None and all(k in data for k in expected)


@dataclass
class Found:
    """One record file met by :func:`load_records`: its record, or why it could not be read."""

    path: Path
    mtime: float
    record: Record | None = None
    error: str | None = None

    @property
    def run_dir(self) -> Path:
        return self.path.parent

    def state(self) -> RunState:
        """The run's state: status, progress (training) or error, and its log when not done."""
        rec = self.record
        if rec is None:
            return RunState("?", "unreadable", str(self.run_dir), f"{self.path.name}: {self.error}")
        progress = f"iteration {rec.iteration} of {rec.iterations}" if isinstance(rec, TrainRecord) else ""
        detail = "; ".join(x for x in (progress, rec.error or "") if x)
        return RunState(rec.TOOL, rec.status, str(self.run_dir), detail,
                        None if rec.status == "done" else log_file(self.run_dir, rec.TOOL))  # fmt: skip


@dataclass
class Scan:
    """Every record file under some folders, and the run folders that left none."""

    found: list[Found] = field(default_factory=list)
    #: Hydra runs (a ``.hydra/`` folder) without a record file: killed before writing one;
    #: tool = the Hydra job name, detail = the run's overrides
    bare: list[RunState] = field(default_factory=list)


def log_file(run_dir: Path, tool: str) -> str | None:
    """The job's log file as Hydra writes it (``<job name>.log``), or any ``*.log`` there."""
    logs = [run_dir / f"{tool}.log", *sorted(run_dir.glob("*.log"))]
    return next((str(p) for p in logs if p.is_file()), None)


def hydra_job(run_dir: Path) -> tuple[str | None, list[str]]:
    """The Hydra job name and overrides of a run directory (from ``.hydra/``), if it has them."""
    config, overrides = run_dir / ".hydra" / "hydra.yaml", run_dir / ".hydra" / "overrides.yaml"
    # a plain scan: hydra.yaml holds unresolvable interpolations, and only one key is wanted
    text = config.read_text(errors="replace") if config.is_file() else ""
    match = re.search(r"^  job:\n(?:    .*\n)*?    name: *(\S+)", text, re.MULTILINE)
    lines = overrides.read_text(errors="replace").splitlines() if overrides.is_file() else []
    return (match.group(1) if match else None), [ln[2:].strip() for ln in lines if ln.startswith("- ")]


def load_records(root: str | Path, skip: Iterable[Path] = ()) -> Scan:
    """Every record file under ``root`` (a folder searched recursively, or one record file).

    Unreadable files are kept with their error, not raised: a sweep has broken jobs and a
    reader wants all the others.  Hidden folders and TensorBoard's ``tb/`` are not entered;
    files whose resolved path is in ``skip`` are not read again.
    """
    scan = Scan()
    seen = {Path(p).resolve() for p in skip}
    root = Path(root)
    if root.is_file():
        walk: Iterable[tuple[str, list[str], list[str]]] = [(str(root.parent), [], [root.name])]
    else:
        walk = os.walk(root)
    for folder, dirnames, filenames in walk:
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "tb")
        here = Path(folder)
        names = [n for n in sorted(filenames) if n in _CLASS_BY_FILE]
        for name in names:
            path = here / name
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            try:
                scan.found.append(Found(path, path.stat().st_mtime, record=read_record(path)))
            except RecordError as exc:
                scan.found.append(Found(path, 0.0, error=exc.problem))
            except OSError as exc:
                scan.found.append(Found(path, 0.0, error=f"unreadable ({type(exc).__name__}: {exc})"))
        if not names and (here / ".hydra" / "hydra.yaml").is_file():
            job, overrides = hydra_job(here)
            if job in RECORD_FILES:
                scan.bare.append(RunState(job, "no record", str(here), " ".join(overrides), log_file(here, job)))
    return scan


# --------------------------------------------------------------------------- plain data <-> dataclasses
class _Malformed(ValueError):
    """A problem with a file's content; :func:`read_record` adds the file's name."""


def _encode(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in fields(value):
            item = getattr(value, f.name)
            if item is None and f.metadata.get("omit_none"):
                continue
            out[f.metadata.get("key", f.name)] = _encode(item)
        return out
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _decode_dataclass(cls: type[Any], data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise _Malformed(f"{where or 'the file'} should be an object, got {data!r}")
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    kwargs = {}
    for f in fields(cls):
        key = f.metadata.get("key", f.name)
        name = f"{where}.{key}" if where else key
        if key in data:
            kwargs[f.name] = _decode(hints[f.name], data[key], name)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise _Malformed(f"has no {name!r}")
    return cls(**kwargs)


def _decode(tp: Any, value: Any, where: str) -> Any:
    """``value`` checked against type ``tp`` (and converted: ints to floats, objects to dataclasses)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _decode(inner, value, where)
    if is_dataclass(tp):
        return _decode_dataclass(tp, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise _Malformed(f"{where} should be a list, got {value!r}")
        return [_decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _Malformed(f"{where} should be an object, got {value!r}")
        return {str(k): _decode(args[1], v, f"{where}[{k!r}]") for k, v in value.items()}
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp in (str, bool) and isinstance(value, tp):
        return value
    what = {float: "a number", int: "a whole number", str: "a string", bool: "true or false"}.get(tp, str(tp))
    raise _Malformed(f"{where} should be {what}, got {value!r}")
