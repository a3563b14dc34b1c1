#!/usr/bin/env bash
# The paper preset on a CUDA machine (docs/NEURAL.md): times both presets with
# bench/bench_train.py, then trains KINDS x MCS (paper preset) side by side on the one GPU,
# each under a time budget, scores them and packs the model folders into $OUT/models.tgz.
# The committed *-paper-* models came from three runs on one H100:
#   MINUTES=4.5 bash scripts/gpu_paper.sh
#   BENCH=0 MINUTES=5 KINDS="cnn convlstm cnn-resid" MCS=5 bash scripts/gpu_paper.sh
#   BENCH=0 MINUTES=3 KINDS="cnn convlstm cnn-resid" MCS=4.5 bash scripts/gpu_paper.sh
#
#   OUT=artifacts/gpu QUAKE_CATALOG=path/to/japan_usgs_1990_2019.csv bash scripts/gpu_paper.sh
#
# Environment: OUT (results folder), QUAKE_CATALOG, PY (python with torch + CUDA),
# MINUTES (training budget per model, default 4.5; a large one trains to convergence: the
# preset's patience stops it), KINDS (default convlstm-resid), MCS (default "5 4.5"),
# SEEDS (default "0": seed 0 is NAME, seed k NAME-sk, as `docs/RESULTS.md`'s seed table
# groups them), BENCH (0 skips the timings).
#
# Issue #12/#14's next run (the paper convlstm to convergence, three seeds, at Mc 5):
#   MINUTES=7 KINDS=convlstm MCS=5 SEEDS="0 1 2" bash scripts/gpu_paper.sh
set -u
OUT=${OUT:-artifacts/gpu}
PY=${PY:-python3}
MINUTES=${MINUTES:-4.5}
KINDS=${KINDS:-convlstm-resid}
MCS=${MCS:-5 4.5}
BENCH=${BENCH:-1}
SEEDS=${SEEDS:-0}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
work=$(mktemp -d)
export PYTHONUNBUFFERED=1 CUBLAS_WORKSPACE_CONFIG=:4096:8 TQDM_MININTERVAL=10
"$PY" -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

t0=$(date +%s)
if [ "$BENCH" != 0 ]; then
  timeout 120 "$PY" bench/bench_train.py --device cuda --presets paper quick \
    --steps 20 --json >"$OUT/bench_cuda.json" 2>"$OUT/bench_cuda.err"
  echo "bench rc $? in $(($(date +%s) - t0)) s"
  cat "$OUT/bench_cuda.json"
fi
# issue #14: where the paper preset's time goes on the GPU (torch.profiler + cProfile)
if [ "$BENCH" != 0 ]; then
  timeout 300 "$PY" bench/profile_train.py --preset paper --device cuda --steps 40 \
    --infer-days 512 --out "$OUT/profile_paper_cuda.txt" >/dev/null 2>"$OUT/profile.err"
  echo "profile rc $?"
  head -40 "$OUT/profile_paper_cuda.txt"
fi

limit=$(python3 -c "print(int(float('$MINUTES') * 60 + 150))")  # training + loading + scoring
pids=()
for kind in $KINDS; do
  for mc in $MCS; do
    for seed in $SEEDS; do
      name=$kind-paper-m${mc}
      [ "$seed" != 0 ] && name=$name-s$seed
      timeout "$limit" "$PY" -m quake train --model "$kind" --mc "$mc" --preset paper \
        --device cuda --threads 3 --max-minutes "$MINUTES" --seed "$seed" --out "$work/$name" \
        --checkpoint "$work/ckpt-$name" >"$OUT/train-$name.log" 2>&1 &
      pids+=($!)
    done
  done
done
nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader -l 30 &
smi=$!
for p in "${pids[@]}"; do wait "$p"; echo "train rc $?"; done
kill "$smi" 2>/dev/null
echo "all done in $(($(date +%s) - t0)) s"
(cd "$work" && tar czf "$OUT/models.tgz" --exclude 'ckpt-*' .)
ls -la "$OUT"
