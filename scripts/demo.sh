#!/usr/bin/env bash
# The main job (README): installs torch if missing, builds, and runs `ebm demo`,
# which writes its pictures and report to demo/ (extra arguments pass through).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-torch.sh
cargo run --release --quiet -p ebm-cli --bin ebm -- demo "$@"
