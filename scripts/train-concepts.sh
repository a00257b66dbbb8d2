#!/usr/bin/env bash
# Trains the four shapes concept models of models/shapes-alone/, each alone (the recipe
# is the defaults of `ebm train shapes`; see models/shapes-alone/README.md; shape and
# size are also the files in models/shapes/, pos and color there come from
# scripts/train-product.sh).
# Usage: scripts/train-concepts.sh [steps] [concepts...]
# Each model trains on one thread; run two at once on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-600}"
shift || true
concepts=("${@:-pos color shape size}")
./scripts/setup-torch.sh >/dev/null
cargo build --release --quiet
for concept in ${concepts[@]}; do
  case "$concept" in pos) seed=1 ;; color) seed=2 ;; shape) seed=3 ;; size) seed=4 ;; *) echo "unknown concept $concept" >&2; exit 2 ;; esac
  run="runs/concepts/$concept"
  rm -rf "$run"
  ./target/release/ebm --threads 1 train shapes --concept "$concept" --steps "$steps" --seed "$seed" --out "$run"
  mkdir -p models/shapes-alone
  cp "$run/model.safetensors" "models/shapes-alone/$concept.safetensors"
done
