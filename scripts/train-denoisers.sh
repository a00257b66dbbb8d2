#!/usr/bin/env bash
# Trains the denoising-trained shapes models shipped in models/shapes-denoise/
# (pos, color, shape, size and the unconditional prior; see
# models/shapes-denoise/README.md). Usage: scripts/train-denoisers.sh [steps] [models...]
# Each model trains on one thread (~28 min for 3500 steps on an idle core);
# run two at once on a 2-core machine. An interrupted run continues with the
# same command plus --resume (the trainer resumes bit-exactly).
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-3500}"
shift || true
models=("${@:-pos color shape size prior}")
./scripts/setup-torch.sh >/dev/null
cargo build --release --quiet
for model in ${models[@]}; do
  case "$model" in
    color) what=(--concept color); seed=1 ;;
    pos) what=(--concept pos); seed=1 ;;
    shape) what=(--concept shape); seed=3 ;;
    size) what=(--concept size); seed=4 ;;
    prior) what=(--prior); seed=5 ;;
    *) echo "unknown model $model (pos, color, shape, size, prior)" >&2; exit 2 ;;
  esac
  run="runs/dsm/$model"
  ./target/release/ebm --threads 1 train shapes "${what[@]}" --objective denoise --steps "$steps" \
    --batch-size 64 --adam-beta1 0.9 --lr 1e-3 --checkpoint-every 500 --seed "$seed" --out "$run"
  mkdir -p models/shapes-denoise
  cp "$run/model.safetensors" "models/shapes-denoise/$model.safetensors"
done
