"""``python -m biogans.sweep_status DIR [DIR ...] [--all]``: what the sweeps under DIR have done.

For every sweep a launch of ``hydra/launcher=local`` or ``hydra/launcher=slurm`` left below
the folders given (its ``sweep.json``), one line per job that is not done: running (with
its SLURM job while SLURM still holds it), interrupted (a rerun resumes it), failed (with
its log), waiting (its input checkpoint does not exist yet) or not started; then a count
per state for each sweep and for all of them (at most 20 lines of one state, every failed
job).  ``--all`` lists every job, the done ones as well.

The state is read live: each job's record file (``metrics.json``, ``c2st.json``, ...), the
existence of its input, and ``squeue`` when SLURM is there.  Runs found under DIR that no
sweep launched (single runs) are counted too.  Exit status 0, or 2 for a bad command line.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

USAGE = "usage: python -m biogans.sweep_status DIR [DIR ...] [--all]"
#: the order in which states are counted and listed
ORDER = ("done", "running", "queued", "interrupted", "not started", "failed", "waiting", "unreadable")


@dataclass
class JobView:
    state: str
    dir: Path
    detail: str = ""
    log: str | None = None
    slurm_job: str | None = None

    def line(self) -> str:
        detail = " ".join(self.detail.split())
        if len(detail) > 300:
            detail = detail[:297] + "..."
        extra = [x for x in (f"slurm job {self.slurm_job}" if self.slurm_job else "", detail) if x]
        if self.log and self.state in ("failed", "interrupted", "running"):
            extra.append(f"log: {self.log}")
        text = "; ".join(extra)
        return f"  {self.state:<12}{self.dir}" + (f"  ({text})" if text else "")


def _record_state(run_dir: Path, tool: str) -> tuple[str, str] | None:
    """(status, detail) from the job's record file, or None if it has none."""
    from biogans.core.records import RECORD_FILES, RecordError, read_record

    path = run_dir / RECORD_FILES[tool]
    if not path.is_file():
        return None
    try:
        record = read_record(path, tool)
    except RecordError as exc:
        return "unreadable", exc.problem
    progress = ""
    if getattr(record, "iterations", None):
        progress = f"iteration {getattr(record, 'iteration', '?')} of {record.iterations}"
    return record.status, "; ".join(x for x in (progress, record.error or "") if x)


def sweep_jobs(manifest_path: Path, live: set[str]) -> list[JobView]:
    """The jobs of one sweep (its ``sweep.json``), each with its state now."""
    from hydra_plugins.biogans_launcher._plan import WAITING_KEY, Manifest

    manifest = Manifest.load(manifest_path.parent)
    views = []
    for name, entry in sorted(manifest.jobs.items()):
        if name.startswith(WAITING_KEY):  # never composed: no directory yet, shown by its overrides
            shown = Path(f"{manifest.sweep_dir}: {' '.join(entry.get('overrides') or [])}")
            if entry.get("input") and not Path(entry["input"]).exists():
                views.append(JobView("waiting", shown, f"for {entry['input']}"))
            continue
        run_dir = manifest.sweep_dir / name
        logs = [x for x in entry.get("logs") or [] if x]
        slurm = entry.get("slurm_job")
        alive = bool(slurm) and slurm in live
        found = _record_state(run_dir, manifest.tool) if manifest.tool else None
        view = JobView("not started", run_dir, log=logs[0] if logs else None, slurm_job=slurm if alive else None)
        if found is not None:
            view.state, view.detail = found
        elif entry.get("input") and not Path(entry["input"]).exists():
            view.state, view.detail = "waiting", f"for {entry['input']}"
        if alive and view.state in ("not started", "interrupted", "running", "failed"):
            view.state = "queued" if view.state != "running" else "running"
        elif view.state == "running" and entry.get("state") == "failed":
            view.state, view.detail = "failed", entry.get("detail") or "died without writing its record"
        elif view.state == "running" and slurm and not alive and _has_squeue():
            view.state, view.detail = "interrupted", "its record says running, but no job runs it: a rerun resumes it"
        views.append(view)
    return views


def _has_squeue() -> bool:
    import shutil

    return shutil.which("squeue") is not None


def _live_slurm_jobs(manifests: Sequence[Path]) -> set[str]:
    from hydra_plugins.biogans_launcher._cluster import alive
    from hydra_plugins.biogans_launcher._plan import Manifest

    ids = [str(e["slurm_job"]) for m in manifests for e in Manifest.load(m.parent).jobs.values() if e.get("slurm_job")]
    return alive(ids) if ids else set()


def status(folders: Sequence[str | Path], show_all: bool = False) -> tuple[str, Counter]:
    """The status text for ``folders`` and the count per state over all of them."""
    from biogans.core.records import load_records

    manifests = sorted({p for f in folders for p in _manifests(Path(f))})
    live = _live_slurm_jobs(manifests)
    total: Counter = Counter()
    lines: list[str] = []
    covered: set[Path] = set()
    for path in manifests:
        views = sweep_jobs(path, live)
        covered.update(v.dir.resolve() for v in views)
        counts = Counter(v.state for v in views)
        total.update(counts)
        lines.append(f"{path.parent}: {len(views)} jobs: {_counts(counts)}")
        lines.extend(_listing(views, show_all))
    singles: list[JobView] = []
    for folder in folders:
        scan = load_records(folder)
        for found in scan.found:
            if found.run_dir.resolve() in covered:
                continue
            state = found.state()
            singles.append(
                JobView(state.status if found.record else "unreadable", found.run_dir, state.detail, state.log)
            )
        for bare in scan.bare:
            if Path(bare.run_dir).resolve() not in covered:
                singles.append(JobView("failed", Path(bare.run_dir), "no record: killed before writing one", bare.log))
    if singles:
        counts = Counter(v.state for v in singles)
        total.update(counts)
        lines.append(f"runs outside any sweep: {len(singles)}: {_counts(counts)}")
        lines.extend(_listing(singles, show_all))
    if not manifests and not singles:
        lines.append(f"no sweeps or runs under {', '.join(str(f) for f in folders)}")
    else:
        lines.append(f"total: {sum(total.values())} jobs: {_counts(total)}")
    return "\n".join(lines), total


def _listing(views: Sequence[JobView], show_all: bool) -> list[str]:
    from hydra_plugins.biogans_launcher._plan import listing

    pairs = [(v.state, v.line()) for v in views if show_all or v.state != "done"]
    return [line for _, line in pairs] if show_all else listing(pairs)


def _manifests(folder: Path) -> list[Path]:
    from hydra_plugins.biogans_launcher._plan import MANIFEST

    if folder.is_file() and folder.name == MANIFEST:
        return [folder]
    return sorted(folder.rglob(MANIFEST)) if folder.is_dir() else []


def _counts(counts: Counter) -> str:
    order = [s for s in ORDER if counts[s]] + sorted(s for s in counts if s not in ORDER)
    return ", ".join(f"{counts[s]} {s}" for s in order) or "none"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    show_all = "--all" in args
    folders = [a for a in args if a != "--all"]
    if not folders or any(a.startswith("-") for a in folders):
        print(USAGE, file=sys.stderr)
        return 2
    missing = [f for f in folders if not Path(f).exists()]
    if missing:
        print(f"biogans.sweep_status: error: no such folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    text, _ = status(folders, show_all)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
