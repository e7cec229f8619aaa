#!/bin/bash
# The 'ort_qdq' test: for the digits MLP and CNN, make_case quantizes (static), exports QDQ ONNX and
# runs q8; check_qdq.js runs the export in ONNX Runtime and compares within one quantization step.
# Node.js and onnxruntime-node (from tests/ort/package-lock.json, installed into
# <builddir>/ort/node_modules by scripts/test.sh) must be there: their absence fails the test.
#
#   run_ort_check.sh MAKE_CASE CHECK_QDQ_JS DATA_DIR NODE_MODULES WORK_DIR
set -euo pipefail
if [ $# -ne 5 ]; then
  echo "usage: run_ort_check.sh MAKE_CASE CHECK_QDQ_JS DATA_DIR NODE_MODULES WORK_DIR" >&2
  exit 2
fi
make_case=$1 check=$2 data=$3 node_modules=$4 work=$5

if ! command -v node >/dev/null 2>&1; then
  echo "ort_qdq: FAIL: 'node' (Node.js) is not on PATH; this check runs the export in onnxruntime-node" >&2
  exit 1
fi
if [ ! -f "$node_modules/onnxruntime-node/package.json" ]; then
  echo "ort_qdq: FAIL: $node_modules/onnxruntime-node is missing. Install it with:" >&2
  echo "  mkdir -p $(dirname "$node_modules") && cp tests/ort/package.json tests/ort/package-lock.json $(dirname "$node_modules")/" >&2
  echo "  (cd $(dirname "$node_modules") && npm ci --ignore-scripts --no-audit --no-fund)" >&2
  exit 1
fi

mkdir -p "$work"
status=0
for model in mlp cnn; do
  "$make_case" "$data/models/digits_$model.onnx" "$data/digits.csv.gz" "$work" static
  stem="$work/digits_$model.static"
  NODE_PATH="$node_modules" node "$check" "$stem.onnx" "$stem.input.bin" "$stem.q8.bin" || status=1
done
exit $status
