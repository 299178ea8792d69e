#!/usr/bin/env bash
# One-shot check on a machine with a GPU (about 5 minutes): runs the CUDA tests, then times LIRDRec and
# LightGCN training epochs (full-graph and sampled-subgraph, sampled on the GPU) and evaluations on lastfm2k
# and a Baby-sized synthetic graph, printing one JSON line per figure. Needs the datasets under
# $LIRDREC_DATA (lastfm2k) and a CUDA build of torch.
#   benchmarks/gpu_check.sh            # on the GPU
#   benchmarks/gpu_check.sh --dry-run  # the same code on the CPU with a tiny graph (CI runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python )}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" benchmarks/gpu_check.py "$@"
