#!/usr/bin/env bash
# What purebench does on a GPU machine, in under 10 minutes: the test suite on CUDA, the main job on CUDA with one
# worker per GPU, and PGD throughput on a WRN-34-10 at batch 256 against bare forward and backward passes, with and
# without mixed precision.  Run from the repository root:
#
#     bash benchmarks/gpu_check.sh [OUT_DIR]        # default OUT_DIR: gpu-check-<date>/ (not committed)
#
# Every step has its own time limit, so one that hangs cannot eat the others' time; each step's output goes to
# OUT_DIR/<step>.log and the summary to OUT_DIR/summary.txt.  Paste the summary into benchmarks/README.md
# ("GPU check").  Exits 1 when a step failed, 2 when no CUDA device is visible.
set -u
OUT="${1:-gpu-check-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
export PUREBENCH_CACHE="${PUREBENCH_CACHE:-$OUT/cache}" PUREBENCH_OFFLINE=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
SUMMARY="$OUT/summary.txt"
status=0

step() {  # step NAME SECONDS COMMAND...: run COMMAND with a time limit, log it, record its status and wall time
    local name="$1" limit="$2"; shift 2
    local begin=$SECONDS
    timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    [ $rc -eq 0 ] || status=1
    echo "$name: exit $rc, $((SECONDS - begin)) s (limit $limit s): $*" | tee -a "$SUMMARY"
}

{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1; nproc; } >"$SUMMARY"
if ! python -c "import sys, torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'devices', torch.cuda.device_count()); sys.exit(0 if torch.cuda.is_available() else 2)" >>"$SUMMARY"; then
    echo "no CUDA device visible" >>"$SUMMARY"; cat "$SUMMARY"; exit 2
fi

# 1. The fast test suite; device "auto" resolves to CUDA in every test that does not pin the CPU.
step tests 240 python -m pytest -q -x -p no:cacheprovider
tail -n 3 "$OUT/tests.log" >>"$SUMMARY"
# 2. The main job on CUDA: the default worker count is one per GPU.
step main_job 240 python run_bench.py --device cuda --results "$OUT/quick-cuda.sqlite"
grep -E "^jobs:|worst" "$OUT/main_job.log" | tail -n 3 >>"$SUMMARY"
# 3. PGD throughput on WRN-34-10 at batch 256, float32 and bfloat16 autocast, against bare passes.
step pgd_throughput 90 python benchmarks/pgd_throughput.py --arch wrn34_10 --batch 256 --steps 10 --repeats 3 --device cuda
grep "^|" "$OUT/pgd_throughput.log" >>"$SUMMARY"
cat "$SUMMARY"
exit $status
