"""``python -m biogans.report runs=DIR [DIR ...] [out=DIR]``: the paper's tables and figures.

Not a Hydra app: ``runs=`` takes several paths (one shell word each), which Hydra's
override grammar cannot.  The work is done by :mod:`biogans.tasks.reporting`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

USAGE = """\
usage: python -m biogans.report runs=DIR [DIR ...] [out=DIR] [title=TEXT] [losses=wgangp,gan] [digits=2]

Builds the paper's tables (Table 1 real vs real, the real-vs-real baseline, Table 2,
Table 3) and figures (Figure 8, sample grids) from the files that runs leave behind:
c2st.json, reconstruction.json and training metrics.json (with samples/iter_<N>.png).

  runs=DIR [DIR ...]  run directories, or folders above them (a multirun sweep): searched
                      recursively; every bare word is one more path
  out=DIR             the report folder (default outputs/report/<timestamp>)
  title=TEXT          the report's title
  losses=A,B          only these eval losses (default: every loss found)
  digits=N            decimals in the Markdown tables (CSV files keep full precision)

Missing or failed runs are listed in the report, not fatal.  Exit status: 0 when a
report was written, 1 when nothing at all was found, 2 for a bad command line.
"""

KEYS = ("runs", "out", "title", "losses", "digits")


class UsageError(Exception):
    """A malformed command line: the usage text follows the message."""


@dataclass
class Args:
    runs: list[str] = field(default_factory=list)
    out: str = ""
    title: str = "biogans evaluation report"
    losses: list[str] | None = None
    digits: int = 2


def parse_args(argv: Sequence[str]) -> Args:
    """``key=value`` words; bare words are more run paths.  ``runs=[a,b]`` is also accepted."""
    args = Args()
    runs = args.runs
    for word in argv:
        key, sep, value = word.partition("=")
        if not sep or key not in KEYS:
            if sep and "/" not in key and not key.startswith((".", "~")):
                raise UsageError(f"unknown setting {key!r}; known: {', '.join(k + '=' for k in KEYS)}")
            runs.append(word)
            continue
        if key == "runs":
            if value.startswith("[") and value.endswith("]"):
                runs.extend(v.strip() for v in value[1:-1].split(",") if v.strip())
            elif value:
                runs.append(value)
        elif key == "losses":
            args.losses = [v.strip() for v in value.strip("[]").split(",") if v.strip()] or None
        elif key == "digits":
            try:
                args.digits = int(value)
            except ValueError:
                raise UsageError(f"digits= takes a whole number, got {value!r}") from None
        elif key == "out":
            args.out = value
        else:
            args.title = value
    if not runs:
        raise UsageError("runs=DIR is required: the run directories (or folders above them) to report on")
    if not args.out:
        args.out = f"outputs/report/{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help", "help") for a in argv):
        print(USAGE, end="")
        return 0
    try:
        args = parse_args(argv)
    except UsageError as exc:
        print(f"biogans.report: error: {exc}\n\n{USAGE}", file=sys.stderr, end="")
        return 2

    from biogans.core.errors import BiogansError
    from biogans.tasks.reporting import render_report, summary_line

    try:
        summary = render_report(args.runs, args.out, title=args.title, losses=args.losses, digits=args.digits)
    except BiogansError as exc:
        print(f"biogans.report: error: {exc}", file=sys.stderr)
        return 1
    for item in summary["missing"]:
        print(f"missing: {item}", file=sys.stderr)
    print(summary_line(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
