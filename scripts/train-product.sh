#!/usr/bin/env bash
# Trains the four models of models/shapes together as a product of experts (issue #14;
# models/shapes/README.md): 2000 supervised warm-up steps (each member's label
# cross-entropy alone), then one Langevin chain per step on the sum of the four
# energies under each scene's own labels, every member updated on those shared
# negatives (with the cross-entropy term kept). Resumable: add --resume to continue.
# Usage: scripts/train-product.sh [steps] [extra ebm train flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-3000}"
shift || true
./scripts/setup-torch.sh >/dev/null
cargo build --release --quiet
run=runs/poe/four
./target/release/ebm --threads 2 train shapes --product pos,color,shape,size --label-ce 1 --supervised-warmup 2000 \
  --steps "$steps" --checkpoint-every 250 --out "$run" "$@"
for concept in pos color shape size; do
  cp "$run/$concept/model.safetensors" "models/shapes/$concept.safetensors"
done
