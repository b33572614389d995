#!/usr/bin/env bash
# Create .venv and install molgate with its dependencies (idempotent; a second run is quick).
# torch is pinned to the CPU wheel that these machines carry; a GPU user installs their own
# CUDA build of torch first and sets MOLGATE_TORCH to that requirement (or to "" to skip it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
TORCH=${MOLGATE_TORCH-torch==2.13.0}
if [ -n "$TORCH" ] && ! python -c "import torch" >/dev/null 2>&1; then
  python -m pip install -q "$TORCH"
fi
python -m pip install -q -e ".[test]"
