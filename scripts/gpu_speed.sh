#!/usr/bin/env bash
# Issue #14 on one CUDA GPU: the speed fixes measured in one call, then a paper training.
#
#   PART=bench OUT=artifacts/gpu QUAKE_CATALOG=path/to/japan_usgs_1990_2019.csv \
#       bash scripts/gpu_speed.sh
#   PART=train ... bash scripts/gpu_speed.sh
#
# PART=bench (about 6-7 min on an H200):
#   0. bench/check_transfer.py: host arrays copied to the GPU without the host waiting for
#      the queued work (quake.models.transfer), and the values right (into checks.txt);
#   1. bench/check_fused_cell.py: the compiled cell update (Triton, bf16 autocast) against
#      the eager one on the paper preset's net, forward and backward;
#   2. bench/bench_train.py --presets paper, one child each: eager (as before), the fused
#      cell, the fused cell without deterministic algorithms (cuDNN benchmark mode), and
#      that with 8 streams a step instead of 2;
#   3. the profile of the fused training (bench/profile_train.py).
# PART=all (for a call of at most ~9.5 min; DEADLINE seconds, 560 by default): everything
#   issue #14 still needs from a GPU in one command. The two checks; the paper preset
#   benched eager and with the fused cell without deterministic algorithms; then the paper
#   convlstm trained alone at Mc 5 and then at Mc 4.5 (seed SEED, 0 by default, the
#   committed models' seed), each to convergence (patience 8) with the fused cell and
#   TRAIN_ARGS under a budget of what is left of DEADLINE (MC5_SHARE of it for Mc 5),
#   the whole command timed; the models in $OUT/models.tgz, the logs in $OUT/train.log.
# PART=train: the paper convlstm at Mc 5 alone on the GPU with TRAIN_ARGS (the fastest of
#   the bench), to convergence (patience) under a safety budget of MINUTES, seed SEED,
#   saved as convlstm-paper-m5-s$SEED into $OUT/models.tgz; the log times the whole run.
#
# Environment: OUT, PY (python3 with torch + CUDA), PART, BEFORE (PART=bench: an older
# tree's quake/ and bench/, benched eager first), FUSED (QUAKE_FUSED_CELL of the
# trainings: auto), SEED (3), MINUTES (6),
# TRAIN_ARGS ('{"deterministic": false}'), KINDS/MCS/SEEDS for PART=seeds (below).
# At most 8 files come back from a device call: everything goes into a few.
# Before the call: bash scripts/gpu_carry.sh prepare (the tree made to fit the call and the
# catalog copied into .gpu/); afterwards: bash scripts/gpu_carry.sh restore.
set -u
OUT=${OUT:-artifacts/gpu}
PY=${PY:-python3}
PART=${PART:-bench}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
export PYTHONUNBUFFERED=1 CUBLAS_WORKSPACE_CONFIG=:4096:8 TQDM_MININTERVAL=10
# the trainings (PART=train, seeds) use the compiled cell unless FUSED says otherwise (auto:
# a failed compilation falls back to the eager update with a warning in the log; the bench
# runs use "on", so that a failure shows in err.log instead)
export QUAKE_FUSED_CELL=${FUSED:-auto}
t0=$(date +%s)
say() { echo "[$(($(date +%s) - t0)) s] $*"; }
"$PY" -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__, torch.cuda.get_device_name(0))"

checks() {
  timeout 60 "$PY" bench/check_transfer.py --device cuda >"$OUT/checks.txt" 2>>"$OUT/err.log"
  say "transfer check rc $?"
  timeout 150 "$PY" bench/check_fused_cell.py --device cuda --days 30 \
    >>"$OUT/checks.txt" 2>>"$OUT/err.log"
  say "fused cell check rc $?"
  cat "$OUT/checks.txt"
}
bench() {
  local tag=$1 script=$2
  shift 2
  timeout "${BENCH_TIMEOUT:-170}" "$PY" "$script" --device cuda --presets paper --steps 20 \
    --json "$@" >"$OUT/bench_$tag.json" 2>>"$OUT/err.log"
  say "bench $tag rc $?"
}

summary() {
  "$PY" - "$OUT" <<'EOF'
import json, pathlib, sys
keys = ["fused_active", "train_days_per_s", "epoch_train_s", "validation_pass_s", "epoch_s",
        "infer_days_per_s", "first_step_s", "warm_up_s", "peak_gpu_mb"]
for f in sorted(pathlib.Path(sys.argv[1]).glob("bench_*.json")):
    try:
        r = json.loads(f.read_text())["rows"][0]
    except Exception as exc:
        print(f.name, "no result:", exc)
        continue
    print(f.stem, {k: r.get(k) for k in keys})
EOF
}

# KIND MC SEED -> the model's name: KIND-paper-mMC, with -sSEED unless SEED is 0
paper_name() { if [ "$3" = 0 ]; then echo "$1-paper-m$2"; else echo "$1-paper-m$2-s$3"; fi; }
# One paper-preset training on the GPU into $work (log: $work/train-NAME.log); CAP seconds
# at most (0: no cap).
train_paper() {
  local kind=$1 mc=$2 seed=$3 minutes=$4 threads=$5 cap=${6:-0}
  local name
  name=$(paper_name "$kind" "$mc" "$seed")
  local limit=()
  [ "$cap" -gt 0 ] && limit=(timeout "$cap")
  "${limit[@]}" "$PY" -m quake train --model "$kind" --mc "$mc" --preset paper \
    --device cuda --threads "$threads" --max-minutes "$minutes" --seed "$seed" \
    --train-args "$TRAIN_ARGS" --out "$work/$name" --checkpoint "$work/ckpt-$name" \
    >"$work/train-$name.log" 2>&1
}
pack() { (cd "$work" && tar czf "$OUT/models.tgz" --exclude 'ckpt-*' .); }

if [ "$PART" = all ]; then
  DEADLINE=${DEADLINE:-560}
  SEED=${SEED:-0}
  MC5_SHARE=${MC5_SHARE:-55}
  TRAIN_ARGS=${TRAIN_ARGS:-'{"deterministic": false}'}
  checks
  BENCH_TIMEOUT=100 bench eager bench/bench_train.py --fused off
  BENCH_TIMEOUT=100 bench fused_nondet bench/bench_train.py --fused on \
    --train-args '{"deterministic": false}'
  summary
  work=$(mktemp -d)
  for mc in 5 4.5; do
    left=$((DEADLINE - ($(date +%s) - t0)))
    # the budget is the training's; loading, the final scoring and saving come on top
    if [ "$mc" = 5 ]; then secs=$((left * MC5_SHARE / 100 - 45)); else secs=$((left - 45)); fi
    if [ "$secs" -lt 60 ]; then say "no time left for Mc $mc"; continue; fi
    name=$(paper_name convlstm "$mc" "$SEED")
    minutes=$("$PY" -c "print(round($secs / 60, 2))")
    say "train $name, budget $minutes min"
    s0=$(date +%s)
    train_paper convlstm "$mc" "$SEED" "$minutes" 4 $((secs + 150))
    rc=$?
    { echo "== $name: rc $rc, $(($(date +%s) - s0)) s the whole command (budget $minutes min)"
      tr '\r' '\n' <"$work/train-$name.log" | grep -E "^ *epoch|stopped|ROC|seconds"; } \
      >>"$OUT/train.log"
  done
  cat "$OUT/train.log"
  pack
fi

if [ "$PART" = bench ]; then
  checks
  # BEFORE: an older tree's quake/ and bench/ (e.g. git archive dd7189e quake bench), the
  # "before" of this tree's eager run in the same call
  if [ -n "${BEFORE:-}" ] && [ -f "$BEFORE/bench/bench_train.py" ]; then
    bench before_eager "$BEFORE/bench/bench_train.py" --fused off
  fi
  bench eager bench/bench_train.py --fused off
  bench fused bench/bench_train.py --fused on
  bench fused_nondet bench/bench_train.py --fused on --train-args '{"deterministic": false}'
  bench fused_nondet_s8 bench/bench_train.py --fused on \
    --train-args '{"deterministic": false, "streams": 8}'
  summary
  timeout 120 "$PY" bench/profile_train.py --preset paper --device cuda --steps 20 \
    --infer-days 256 --out "$OUT/profile_paper_cuda_fused.txt" >/dev/null 2>>"$OUT/err.log"
  say "profile rc $?"
  head -30 "$OUT/profile_paper_cuda_fused.txt"
fi

if [ "$PART" = train ]; then
  SEED=${SEED:-3}
  MINUTES=${MINUTES:-6}
  TRAIN_ARGS=${TRAIN_ARGS:-'{"deterministic": false}'}
  work=$(mktemp -d)
  name=$(paper_name convlstm 5 "$SEED")
  train_paper convlstm 5 "$SEED" "$MINUTES" 4
  say "train rc $?"
  cp "$work/train-$name.log" "$OUT/"
  grep -E "epoch|stopped|ROC" "$OUT/train-$name.log" | tail -40
  pack
fi

if [ "$PART" = seeds ]; then
  # issue #12: seeds of the paper rows, side by side on the one GPU
  KINDS=${KINDS:-cnn cnn-resid convlstm-resid}
  MCS=${MCS:-5}
  SEEDS=${SEEDS:-1 2}
  MINUTES=${MINUTES:-5}
  TRAIN_ARGS=${TRAIN_ARGS:-'{"deterministic": false}'}
  work=$(mktemp -d)
  pids=()
  for kind in $KINDS; do
    for mc in $MCS; do
      for seed in $SEEDS; do
        train_paper "$kind" "$mc" "$seed" "$MINUTES" 2 &
        pids+=($!)
      done
    done
  done
  for p in "${pids[@]}"; do wait "$p"; say "train rc $?"; done
  for f in "$work"/train-*.log; do echo "== $f"; grep -E "stopped|best epoch|ROC" "$f" | tail -4; done
  pack
fi
say "done"
ls -la "$OUT"
