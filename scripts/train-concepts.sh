#!/usr/bin/env bash
# Trains the four shapes concept models shipped in models/shapes/ (the recipe
# is the defaults of `ebm train shapes`; see models/shapes/README.md).
# Usage: scripts/train-concepts.sh [steps] [threads]
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-600}"
threads="${2:-2}"
./scripts/setup-torch.sh >/dev/null
cargo build --release --quiet
seed=1
for concept in pos color shape size; do
  run="runs/concepts/$concept"
  rm -rf "$run"
  ./target/release/ebm --threads "$threads" train shapes --concept "$concept" --steps "$steps" --seed "$seed" --out "$run"
  cp "$run/model.safetensors" "models/shapes/$concept.safetensors"
  seed=$((seed + 1))
done
ls -la models/shapes
