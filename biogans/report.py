"""``python -m biogans.report DIR [DIR ...] [--out DIR]``: the paper's tables and figures.

Not a Hydra app: a report takes any number of folders, one shell word each, which a
standard parser (argparse) reads as they are.  The work is done by
:mod:`biogans.tasks.reporting`.  Exit status: 0 when a report was written, 1 when nothing
at all was found, 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

DESCRIPTION = """\
Builds the paper's tables (Table 1 real vs real, the real-vs-real baseline, Table 2,
Table 3) and figures (Figure 8, sample grids) from the records that runs leave behind:
c2st.json, reconstruction.json and training metrics.json (with samples/iter_<N>.png),
and lists the state of every run found (done, running, failed with its log, interrupted).
"""
EPILOG = """\
Missing or failed runs are listed in the report, not fatal.  Exit status: 0 when a
report was written, 1 when nothing at all was found, 2 for a bad command line.
"""
#: the words of the previous command line (runs=DIR out=DIR ...), answered with their new form
OLD_WORDS = ("runs", "out", "title", "losses", "digits")


def _digits(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a whole number, got {text!r}") from None
    if not 0 <= value <= 12:
        raise argparse.ArgumentTypeError(f"must be between 0 and 12, got {value}")
    return value


def _losses(text: str) -> list[str]:
    from biogans.tasks.report_tables import LOSS_ORDER

    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in LOSS_ORDER]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"names losses among {', '.join(LOSS_ORDER)}, got {text!r}")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m biogans.report",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "runs",
        nargs="+",
        metavar="DIR",
        help="run directories, folders above them (a multirun sweep) or record files; searched recursively",
    )
    parser.add_argument("--out", metavar="DIR", help="the report folder (default: outputs/report/<timestamp>)")
    parser.add_argument("--title", default="biogans evaluation report", help="the report's title")
    parser.add_argument("--losses", type=_losses, metavar="A,B", help="only these eval losses (default: all found)")
    parser.add_argument(
        "--digits", type=_digits, default=2, metavar="N", help="decimals in the Markdown tables (CSV: full precision)"
    )
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The command line as settings; a bad one raises ``SystemExit(2)`` after argparse's message."""
    parser = build_parser()
    args = parser.parse_args(list(argv))
    old = [word for word in args.runs if word.partition("=")[0] in OLD_WORDS and "=" in word]
    if old:
        key, _, value = old[0].partition("=")
        new = f"DIR {value}" if key == "runs" else f"--{key} {value}"
        parser.error(f"{old[0]!r}: the report's command line takes `{new}` now (see --help)")
    if args.out is None:
        args.out = f"outputs/report/{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # --help (0) or a bad command line (2), argparse has printed why
        return exc.code if isinstance(exc.code, int) else 2

    from pathlib import Path

    from biogans.core.errors import BiogansError
    from biogans.tasks.reporting import ReportConfig, run, summary_line

    cfg = ReportConfig(runs=list(args.runs), out=args.out, title=args.title, losses=args.losses, digits=args.digits)
    try:
        report = run(cfg, Path(cfg.out))
    except BiogansError as exc:
        print(f"biogans.report: error: {exc}", file=sys.stderr)
        return 1
    for item in report.missing:
        print(f"missing: {item}", file=sys.stderr)
    print(summary_line(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
