#!/usr/bin/env bash
# A coolant-style multi-criteria screen (issue 8): immersion coolants need a high boiling point and
# flash point, a low viscosity and a low dielectric constant (they touch live electronics).
#   1. build the four properties from the installed `chemicals` package (no download),
#   2. train one multi-task GATE on them,
#   3. enumerate a synthetic candidate library with RDKit,
#   4. screen it: every property in its unit, the applicability domain, and only the hits kept,
#   5. summarise the hits (table + plot).
# Usage: bash examples/coolant_screen.sh [LIBRARY_SIZE]   (default 200000)
#   EPOCHS=30 (training epochs) and MOLGATE_RUNS=runs (output folder) can be set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d .venv ] || bash scripts/setup.sh
. .venv/bin/activate
SIZE=${1:-200000}
EPOCHS=${EPOCHS:-30}
OUT=${MOLGATE_RUNS:-runs}/coolant
mkdir -p "$OUT"

molgate data build --tasks boiling_point flash_point viscosity_298 dielectric_constant \
                   --out "$OUT/suite" --no-progress
molgate train --data "$OUT/suite/suite.parquet" --method gate --split scaffold \
              --epochs "$EPOCHS" --patience 6 --out "$OUT/gate" --no-progress --evaluate
molgate library generate --size "$SIZE" --out "$OUT/library.smi" --no-progress
# units: boiling_point, flash_point in K; viscosity_298 in log10(mPa*s); dielectric_constant unitless
molgate screen --model "$OUT/gate" --library "$OUT/library.smi" --out "$OUT/hits.parquet" \
               --where "boiling_point > 450 and flash_point > 420 and viscosity_298 < 1 and dielectric_constant < 4"
python examples/summarize_screen.py "$OUT/hits.parquet" --out "$OUT/hits.png"
