#!/usr/bin/env bash
# The project's test command (README; .ci/run calls exactly this): installs
# torch if missing, then checks formatting, lints and runs every test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-torch.sh
cargo fmt --all -- --check
cargo clippy --release --all-targets -- -D warnings
cargo test --release "$@"
