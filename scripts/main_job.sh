#!/usr/bin/env bash
# The main job: set up, then train and evaluate STL and MTL on built-in data, printing the tables.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
OUT=${MOLGATE_RUNS:-runs/main}
python -m molgate.jobs.main_job --out "$OUT" "$@"
