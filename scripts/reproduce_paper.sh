#!/usr/bin/env bash
# scripts/reproduce_paper.sh -- the whole paper, in order; run it again to advance it.
#
#   scripts/reproduce_paper.sh [--slurm PARTITION] [--retry-failed] [--data 'OVERRIDES'] [--train 'OVERRIDES']
#                              [--c2st 'OVERRIDES'] [--reconstruct 'OVERRIDES'] [--launcher 'OVERRIDES']
#
# Steps (each a command of the README, each skipping what an earlier run finished):
#   1. python -m biogans.prepare                 the evaluation splits of every class folder
#   2. python -m biogans.train -m 'experiment=glob(paper_*)'          the 14 training runs
#   3. python -m biogans.c2st -m +sweep=figure8 | table2 | table1 | baseline
#      python -m biogans.reconstruct -m +sweep=table3                 the evaluation grids
#   4. python -m biogans.report outputs/paper --out outputs/paper/report
#   5. python -m biogans.sweep_status outputs/paper                    what is done, what is not
# Everything lands in outputs/paper/ under the current directory.  A step that fails does not
# stop the others (evaluation jobs whose checkpoint does not exist yet just wait); the exit
# status is 1 if any step failed.  Done jobs are never run again; interrupted ones resume;
# failed ones are listed with their logs and rerun only with --retry-failed.
#
#   --slurm PARTITION  submit the sweeps to SLURM (hydra/launcher=slurm); each step waits for
#                      its jobs.  Stopping the script (Ctrl-C) leaves the submitted jobs running:
#                      a rerun does not submit them again and picks up their results.
#   --retry-failed     rerun the jobs that failed before (hydra.launcher.retry_failed=true)
#   --data 'O ...'     dataset overrides for every step, e.g.
#                      --data 'dataset=lin dataset.root=/data/LIN_..._train dataset.test_root=/data/LIN_..._test dataset.classes=[Alp14,Arp3,Cki2,Mkh1,Sid2,Tea1]'
#   --train 'O ...'    more overrides for the training sweep (e.g. train.iterations=1000)
#   --c2st 'O ...'     more overrides for the c2st sweeps (e.g. iterations=500)
#   --reconstruct 'O ...'  more overrides for the reconstruction sweep (e.g. max_images_per_class=64)
#   --launcher 'O ...' launcher overrides for every sweep (e.g. 'hydra.launcher.timeout_min=720
#                      hydra.launcher.array_parallelism=16')
# Overrides are split at spaces: none may contain one.
# Environment: PYTHON (default: .venv/bin/python of this checkout if there is one, else python3).
set -uo pipefail

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

PARTITION=""
RETRY=()
DATA=""
TRAIN=""
C2ST=""
RECON=""
LAUNCHER=""
while [ $# -gt 0 ]; do
    case $1 in
        --slurm) [ $# -ge 2 ] || { echo "reproduce_paper.sh: --slurm needs a partition" >&2; exit 2; }
                 PARTITION=$2; shift 2 ;;
        --retry-failed) RETRY=("hydra.launcher.retry_failed=true"); shift ;;
        --data) DATA=${2:?--data needs overrides}; shift 2 ;;
        --train) TRAIN=${2:?--train needs overrides}; shift 2 ;;
        --c2st) C2ST=${2:?--c2st needs overrides}; shift 2 ;;
        --reconstruct) RECON=${2:?--reconstruct needs overrides}; shift 2 ;;
        --launcher) LAUNCHER=${2:?--launcher needs overrides}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "reproduce_paper.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

HERE=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$HERE/.venv/bin/python" ]; then PYTHON=$HERE/.venv/bin/python; else PYTHON=python3; fi
fi

read -r -a DATA_ARGS <<< "$DATA"
read -r -a TRAIN_ARGS <<< "$TRAIN"
read -r -a C2ST_ARGS <<< "$C2ST"
read -r -a RECON_ARGS <<< "$RECON"
read -r -a LAUNCHER_ARGS <<< "$LAUNCHER"
if [ -n "$PARTITION" ]; then
    LAUNCH=("hydra/launcher=slurm" "hydra.launcher.partition=$PARTITION" "${LAUNCHER_ARGS[@]}" "${RETRY[@]}")
else
    LAUNCH=("hydra/launcher=local" "${LAUNCHER_ARGS[@]}" "${RETRY[@]}")
fi

FAILED=()
step() {
    local name=$1; shift
    echo "== reproduce_paper: $name" >&2
    echo "   $PYTHON $*" >&2
    if ! "$PYTHON" "$@"; then
        FAILED+=("$name")
        echo "== reproduce_paper: $name did not finish (see above); going on with the next step" >&2
    fi
}

# 1. splits of every class folder (Table 1 uses 8 classes, the models 6): a single quick run
step prepare -m biogans.prepare "${DATA_ARGS[@]}" dataset.classes=null hydra.run.dir=outputs/paper/prepare
# 2. the 14 training runs (outputs/paper/train/<experiment>/)
step train -m biogans.train -m 'experiment=glob(paper_*)' "${DATA_ARGS[@]}" "${TRAIN_ARGS[@]}" "${LAUNCH[@]}"
# 3. the evaluation grids (outputs/paper/c2st/<sweep>/..., outputs/paper/reconstruct/table3/...)
for sweep in figure8 table2 table1 baseline; do
    step "c2st $sweep" -m biogans.c2st -m "+sweep=$sweep" "${DATA_ARGS[@]}" "${C2ST_ARGS[@]}" "${LAUNCH[@]}"
done
step "reconstruct table3" -m biogans.reconstruct -m +sweep=table3 "${DATA_ARGS[@]}" "${RECON_ARGS[@]}" "${LAUNCH[@]}"
# 4. the tables and figures from whatever is there
step report -m biogans.report outputs/paper --out outputs/paper/report
# 5. what is done and what is not
"$PYTHON" -m biogans.sweep_status outputs/paper >&2 || true

if [ ${#FAILED[@]} -gt 0 ]; then
    echo "== reproduce_paper: not finished: ${FAILED[*]}; fix what the logs say and run this again" >&2
    exit 1
fi
echo "== reproduce_paper: every step finished; the report is in outputs/paper/report" >&2
