# The README's commands. Everything installs into .venv from this project's own files,
# TensorFlow included (the `tf` extra; `dev` holds it too). `make smoke-notf` checks a
# plain install without TensorFlow in build/venv-notf.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := samples/digits_int8.tflite
DEMO := build/demo

.PHONY: demo test smoke-notf bench fuzz samples clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[tf]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	@echo "== summarize: an int8 TFLite model, then a frozen graph"
	$(BIN)/modelkit summarize $(SAMPLE)
	$(BIN)/modelkit summarize samples/digits_frozen.pb
	@echo "== convert the frozen graph to full-integer int8, verified against the source"
	$(BIN)/modelkit convert samples/digits_frozen.pb $(DEMO)/digits_frozen_int8.tflite \
		--quantize int8 --data samples/digits_calib.npy --force
	@echo "== run a uint8 model fed right (its own input quantization), then fed raw values"
	$(BIN)/modelkit run samples/digits_uint8_legacy.tflite --data samples/digits_test.npz \
		--labels samples/digits_test.npz --top-k 3
	$(BIN)/modelkit run samples/digits_uint8_legacy.tflite --data samples/digits_test.npz \
		--labels samples/digits_test.npz --top-k 3 --raw
	@echo "== check a model whose FULLY_CONNECTED bias scale was hand-edited, fix it, check again"
	$(BIN)/python tests/data/make_broken_models.py $(DEMO) fc_bias_per_tensor
	$(BIN)/modelkit check $(DEMO)/fc_bias_per_tensor.tflite || echo "(check exited with $$?)"
	@echo "== cut the broken model down to the op the interpreter refuses"
	$(BIN)/modelkit reduce $(DEMO)/fc_bias_per_tensor.tflite $(DEMO)/fc_bias_reduced.tflite \
		--until refused --force 2>/dev/null
	$(BIN)/modelkit fix $(DEMO)/fc_bias_per_tensor.tflite $(DEMO)/fc_bias_fixed.tflite --force
	$(BIN)/modelkit check $(DEMO)/fc_bias_fixed.tflite
	@echo "== what the fix changed, computed (diff exits 1: the models differ)"
	$(BIN)/modelkit diff $(DEMO)/fc_bias_per_tensor.tflite $(DEMO)/fc_bias_fixed.tflite; [ $$? -eq 1 ]
	@echo "== a TF1 legacy-quantized graph: check it, reverse it to float, convert it to int8"
	$(BIN)/modelkit check samples/digits_legacy_quantized.pb | tail -n 3 || true
	$(BIN)/modelkit transform samples/digits_legacy_quantized.pb $(DEMO)/digits_dequantized.pb \
		--transforms dequantize_legacy --force
	$(BIN)/modelkit convert $(DEMO)/digits_dequantized.pb $(DEMO)/digits_from_legacy_int8.tflite \
		--quantize int8 --data samples/digits_calib.npy --force
	@echo "== find the layer that loses the accuracy: the float graph against the uint8 model"
	$(BIN)/modelkit debug samples/digits_frozen.pb samples/digits_uint8_legacy.tflite \
		--data samples/digits_test.npz --labels samples/digits_test.npz
	@echo "== browse the uint8 model's graph with the check findings and the per-layer errors on it"
	$(BIN)/modelkit debug samples/digits_frozen.pb samples/digits_uint8_legacy.tflite \
		--data samples/digits_test.npz --json > $(DEMO)/debug.json
	@if [ -t 1 ]; then $(BIN)/modelkit browse samples/digits_uint8_legacy.tflite --graph \
		--overlay $(DEMO)/debug.json; \
	else echo "(stdout is not a terminal: run '$(BIN)/modelkit browse samples/digits_uint8_legacy.tflite --graph --overlay $(DEMO)/debug.json' to open the browser)"; fi

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

smoke-notf:
	PYTHON=$(PYTHON) .ci/smoke_without_tf.sh build/venv-notf

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/run.py

# Mutants per format (make fuzz FUZZ_N=500 for a short run); bad ones land in tests/data/fuzz.
FUZZ_N ?= 10000
fuzz: $(VENV)/.installed-dev
	$(BIN)/python -m tests.fuzz.fuzzer -n $(FUZZ_N) --jobs 2

samples: $(VENV)/.installed-dev
	$(BIN)/python samples/make_samples.py --out samples

clean:
	rm -rf $(VENV) build *.egg-info
