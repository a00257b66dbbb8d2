#!/usr/bin/env bash
# Trains models/shapes/pos and color together as a product of experts (issue #14;
# models/shapes/README.md): one chain on the sum of their energies, each model
# updated on the shared negatives. Resumable: add --resume to continue a run.
# Usage: scripts/train-product.sh [steps] [extra ebm train flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-1000}"
shift || true
./scripts/setup-torch.sh >/dev/null
cargo build --release --quiet
run=runs/poe/pos-color
./target/release/ebm train shapes --product pos,color --steps "$steps" --out "$run" "$@"
cp "$run/pos/model.safetensors" models/shapes/pos.safetensors
cp "$run/color/model.safetensors" models/shapes/color.safetensors
