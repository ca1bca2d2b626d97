#!/usr/bin/env bash
# A plain `pip install .` (no TensorFlow) in its own venv: every TFLite command and the
# structural GraphDef work run on the bundled samples, and a command that needs
# TensorFlow says so in one line, exit 2. About 15 s once the venv exists; about a
# minute with a new venv and a warm pip cache.
#
# Usage: .ci/smoke_without_tf.sh [VENV]   (default build/venv-notf; PYTHON picks the python)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-build/venv-notf}
WORK=build/smoke-notf
PY=$VENV/bin/python
MK=$VENV/bin/modelkit
started=$(date +%s)

if [ ! -x "$PY" ]; then
    "${PYTHON:-python3}" -m venv "$VENV"
fi
# NOTE: pip's output goes to a log, shown only when the install fails.
mkdir -p "$WORK"
if ! "$PY" -m pip install -q . >"$WORK/pip.log" 2>&1; then
    cat "$WORK/pip.log" >&2
    echo "smoke: pip install . failed" >&2
    exit 1
fi
if "$PY" -c "import tensorflow" 2>/dev/null; then
    echo "smoke: tensorflow is importable in $VENV; this run must have none" >&2
    exit 1
fi
rm -rf "${WORK:?}"/out && mkdir -p "$WORK/out"
OUT=$WORK/out
passed=0

# expect CODE TEXT CMD...: CMD exits with CODE and its stdout+stderr holds TEXT, without
# a traceback.
expect() {
    local want=$1 text=$2 got=0
    shift 2
    "$@" >"$WORK/last.txt" 2>&1 || got=$?
    if [ "$got" != "$want" ] || ! grep -qF -- "$text" "$WORK/last.txt" \
            || grep -q "Traceback" "$WORK/last.txt"; then
        echo "smoke: FAILED: $* (exit $got, wanted $want and '$text'):" >&2
        tail -n 20 "$WORK/last.txt" >&2
        exit 1
    fi
    passed=$((passed + 1))
    echo "ok  $*"
}

NEEDS_TF="needs TensorFlow: pip install 'modelkit[tf]'"

# Reading every format.
expect 0 "full_integer_int8" "$MK" summarize --json samples/digits_int8.tflite
expect 0 "Format        GraphDef" "$MK" summarize samples/digits_frozen.pb
expect 0 "Format        SavedModel" "$MK" summarize samples/digits_savedmodel
expect 0 "Format        TF checkpoint" "$MK" summarize samples/digits_ckpt
expect 0 "Format        Keras 3 (.keras)" "$MK" summarize samples/digits.keras

# check and fix a TFLite model whose FULLY_CONNECTED bias scale was hand-edited.
expect 0 "fc_bias_per_tensor.tflite" "$PY" tests/data/make_broken_models.py "$OUT" fc_bias_per_tensor
expect 4 "scale_diff / output_scale" "$MK" check "$OUT/fc_bias_per_tensor.tflite"
expect 0 "wrote" "$MK" fix "$OUT/fc_bias_per_tensor.tflite" "$OUT/fc_fixed.tflite"
expect 0 "0 errors" "$MK" check "$OUT/fc_fixed.tflite"

# transform: a TFLite pass, structural GraphDef passes, numpy constant folding.
expect 0 "wrote" "$MK" transform samples/digits_int8.tflite "$OUT/digits_u8.tflite" \
    -t 'set_io_type(type=uint8)'
expect 0 "uint8[1,8,8,1]" "$MK" summarize "$OUT/digits_u8.tflite"
expect 0 "wrote" "$MK" transform samples/digits_frozen.pb "$OUT/stripped.pb" \
    -t 'strip_unused_nodes remove_nodes(op=Identity) sort_by_execution_order'
expect 0 "8 constant tensors folded" "$MK" transform samples/digits_frozen.pb "$OUT/folded.pb" \
    -t fold_constants

# run, compare and debug (pair mode) on TFLite models, with LiteRT.
expect 0 "accuracy: 95.00%" "$MK" run samples/digits_uint8_legacy.tflite \
    --data samples/digits_test.npz --labels samples/digits_test.npz --top-k 1
expect 1 "FAILED: 832 of 3600 elements exceed both tolerances" "$MK" compare \
    samples/digits_float.tflite samples/digits_int8.tflite --data samples/digits_test.npz
expect 0 "top-1 agreement 100.00%" "$MK" compare samples/digits_float.tflite \
    samples/digits_int8.tflite --data samples/digits_test.npz --atol 0.05
expect 0 "worst layer" "$MK" debug samples/digits_float.tflite samples/digits_uint8_legacy.tflite \
    --data samples/digits_test.npz
"$MK" debug samples/digits_float.tflite samples/digits_uint8_legacy.tflite \
    --data samples/digits_test.npz --json >"$OUT/debug.json" 2>"$WORK/last.txt" \
    || { cat "$WORK/last.txt" >&2; echo "smoke: FAILED: debug --json" >&2; exit 1; }

# browse, headless (Pilot), with the debug overlay.
expect 0 "browse: ok" "$PY" .ci/smoke_browse.py samples/digits_uint8_legacy.tflite "$OUT/debug.json"

# diff, extract, reduce, export and CI check formats: no TensorFlow either.
expect 1 "1 change: tensor ~1" "$MK" diff "$OUT/fc_bias_per_tensor.tflite" "$OUT/fc_fixed.tflite"
expect 0 "wrote" "$MK" extract samples/digits_int8.tflite "$OUT/cut.tflite" --outputs '#20'
expect 0 "(1 op)" "$MK" reduce "$OUT/fc_bias_per_tensor.tflite" "$OUT/reduced.tflite" \
    --until refused
expect 0 "wrote" "$MK" export samples/digits_int8.tflite "$OUT/digits.html" --check tflite
expect 4 '"version": "2.1.0"' "$MK" check --format sarif "$OUT/fc_bias_per_tensor.tflite" \
    samples/digits_int8.tflite

# What needs TensorFlow says so, exit 2, and writes nothing.
expect 2 "samples/digits_frozen.pb: converting $NEEDS_TF" \
    "$MK" convert samples/digits_frozen.pb "$OUT/digits.tflite"
test ! -e "$OUT/digits.tflite" || { echo "smoke: convert left $OUT/digits.tflite" >&2; exit 1; }
expect 2 "samples/digits_frozen.pb: running a TF graph $NEEDS_TF" \
    "$MK" run samples/digits_frozen.pb --data samples/digits_test.npz

echo "without TensorFlow: $(( $(date +%s) - started )) s"
echo "smoke: $passed passed, 0 failed"
