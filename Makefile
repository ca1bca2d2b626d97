# The README's commands. Everything installs into .venv from this project's own files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := samples/digits_int8.tflite

.PHONY: demo test bench fuzz samples clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/modelkit summarize $(SAMPLE)
	$(BIN)/modelkit summarize samples/digits_frozen.pb
	$(BIN)/modelkit convert samples/digits_frozen.pb build/demo/digits_frozen_int8.tflite \
		--quantize int8 --data samples/digits_calib.npy --force
	@if [ -t 1 ]; then $(BIN)/modelkit browse $(SAMPLE); \
	else echo "(stdout is not a terminal: run '$(BIN)/modelkit browse $(SAMPLE)' to open the browser)"; fi

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

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
