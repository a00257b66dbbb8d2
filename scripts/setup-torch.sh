#!/usr/bin/env bash
# Makes sure torch 2.13.0 (the libtorch that tch 0.26 is built against) is
# installed in a virtual environment outside the clone, and points the build at
# it through the `.libtorch` link that `.cargo/config.toml` names.
#
# The environment lives in ${EBM_TORCH_VENV:-~/.cache/ebm/torch-2.13.0} so that
# every clone on the machine (and CI) reuses one 4.7 GB install.
set -euo pipefail
TORCH_VERSION=2.13.0
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${EBM_TORCH_VENV:-"$HOME/.cache/ebm/torch-$TORCH_VERSION"}
python=${PYTHON:-python3}

have_torch() {
  [ -x "$venv/bin/python" ] &&
    "$venv/bin/python" -c "import torch,sys; sys.exit(0 if torch.__version__.split('+')[0]=='$TORCH_VERSION' else 1)" 2>/dev/null
}

if ! have_torch; then
  echo "setup-torch: installing torch==$TORCH_VERSION into $venv (once per machine, ~5 GB)" >&2
  command -v "$python" >/dev/null || { echo "setup-torch: $python not found; install Python 3.9+ or set PYTHON" >&2; exit 1; }
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION"
  have_torch || { echo "setup-torch: torch $TORCH_VERSION still not importable from $venv" >&2; exit 1; }
fi

# Ask torch itself where it lives (the same query tch's LIBTORCH_USE_PYTORCH mode
# makes) and record it as a link the cargo config can name relative to the repo.
torch_dir=$("$venv/bin/python" -c "import os,torch; print(os.path.dirname(torch.__file__))" 2>/dev/null)
abi=$("$venv/bin/python" -c "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))" 2>/dev/null)
[ "$abi" = 1 ] || { echo "setup-torch: torch was built with the old C++ ABI; .cargo/config.toml assumes the new one" >&2; exit 1; }
if [ "$(readlink "$root/.libtorch" 2>/dev/null)" != "$torch_dir" ]; then
  ln -sfn "$torch_dir" "$root/.libtorch"
fi
# The environment's python also runs the PyTorch reference benchmark; link the
# whole environment (a linked python alone would not find its pyvenv.cfg).
if [ "$(readlink "$root/.torch-venv" 2>/dev/null)" != "$venv" ]; then
  ln -sfn "$venv" "$root/.torch-venv"
fi
rm -f "$root/.torch-python"
