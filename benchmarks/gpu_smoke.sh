#!/usr/bin/env bash
# GPU smoke test (benchmarks/gpu_smoke.py): cavity PINN with amp bf16 + compile, 500 FNO steps at 64²,
# 100 channel DNS steps at 128x129x128, one IFactFormer-m rollout; speeds and agreement with the CPU path.
#   bash benchmarks/gpu_smoke.sh            one CUDA GPU, at most 10 minutes (H100)
#   bash benchmarks/gpu_smoke.sh --small    CPU, small sizes (or SCIFLOW_SMOKE_SMALL=1)
# PYTHON selects the interpreter (default: python); --out DIR the run directory (default runs/gpu_smoke).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec timeout 600 "${PYTHON:-python}" benchmarks/gpu_smoke.py "$@"
