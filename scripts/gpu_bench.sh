#!/usr/bin/env bash
# The benchmark on a lent GPU machine, as one call (../shared/GPU.md, BENCHMARKS.md):
#   1. the equality checks of tests/test_bench.py on the GPU (float64: every timed path
#      against its 2017-style reference, both tower implementations);
#   2. the benchmark's quick preset on the GPU (the CUDA path end to end, seconds);
#   3. python -m biogans.bench at the paper's settings (preset auto = paper on CUDA);
#   4. a short training run of the star-shaped model on the GPU (the tool's own CUDA path).
# Logs and bench.json files land under $OUT (default outputs/gpu). The machine has torch but
# no Hydra or submitit: their wheels travel in .whl (see ../shared/GPU.md for how to fetch them).
#
#   run: bash scripts/gpu_bench.sh            (carry: [".whl"])
#   env: PAPER_TIMEOUT=seconds for step 3 (default 420), BENCH_ARGS=extra overrides for step 3
set -uo pipefail
OUT=${OUT:-outputs/gpu}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
export BIOGANS_CACHE=/tmp/biogans-cache

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.limit,memory.total --format=csv \
    | tee "$OUT/gpu.txt"
python3 -c "import torch, hydra; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())" \
    | tee -a "$OUT/gpu.txt"

echo "== 1. equality on the GPU (float64)"
BIOGANS_TEST_DEVICE=cuda timeout 150 python3 -m pytest -q -p no:cacheprovider -o addopts= -o timeout=0 \
    tests/test_bench.py -k equals_the_reference >"$OUT/equality.log" 2>&1
echo "exit $?"; tail -5 "$OUT/equality.log"

echo "== 2. quick preset on the GPU"
timeout 120 python3 -m biogans.bench preset=quick "hydra.run.dir=$OUT/quick" >"$OUT/quick.log" 2>&1
status=$?
echo "exit $status"; tail -3 "$OUT/quick.log"
if [ "$status" -ne 0 ]; then tail -40 "$OUT/quick.log"; exit 1; fi

echo "== 3. the paper's settings"
# shellcheck disable=SC2086
timeout "${PAPER_TIMEOUT:-420}" python3 -m biogans.bench "hydra.run.dir=$OUT/paper" ${BENCH_ARGS:-} \
    >"$OUT/paper.log" 2>&1
echo "exit $?"
grep -E '^\[[0-9]+/' "$OUT/paper.log" | tail -25
sed -n '/^biogans.bench on/,$p' "$OUT/paper.log"

echo "== 4. a short training run on the GPU"
timeout 120 python3 -m biogans.train model=star loss=wgangp device=cuda train.iterations=40 train.checkpoint_every=20 \
    train.progress=false "hydra.run.dir=$OUT/train" >"$OUT/train.log" 2>&1
echo "exit $?"; tail -3 "$OUT/train.log"
