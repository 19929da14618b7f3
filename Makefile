# Each target does its own set-up: a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Use the shared MNIST copy when it sits beside the checkout (dev machines, CI);
# elsewhere the loader finds it in the user cache or downloads it once.
SHARED_DATA := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)/mnist),)
export KMEANSLAB_DATA ?= $(SHARED_DATA)
endif

.PHONY: demo test bench build mutate clean

# The compiled kernels: any change to them re-runs the install, which recompiles only
# what changed (the build tools live in the venv and the build folder persists).
KERNELS := CMakeLists.txt $(wildcard src/cpp/*.cpp src/cpp/*.hpp)
BUILD_DEPS := scikit-build-core nanobind cmake ninja
INSTALL := $(BIN)/python -m pip install -q --no-build-isolation -e

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip $(BUILD_DEPS)

$(VENV)/.installed: pyproject.toml $(KERNELS) | $(BIN)/python
	$(INSTALL) .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(KERNELS) | $(BIN)/python
	$(INSTALL) '.[test]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml $(KERNELS) | $(BIN)/python
	$(INSTALL) '.[test,bench]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed

build: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/kmeanslab run --dataset mnist --k 10 --n-init 10 --seed 0 --fallback digits --force --out runs/demo

# One test process per core (pytest-xdist): most of the suite is single-threaded Python.
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -n auto

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/bench_kmeans.py

$(VENV)/.installed-mutate: pyproject.toml $(KERNELS) | $(BIN)/python
	$(INSTALL) '.[test,mutate]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed

# Mutation testing of the Python layer (not part of CI; run it before resolving an issue).
# Every module with a test subset in scripts/mutate.py, or one: make mutate MODULE=src/kmeanslab/metrics.py
# SAMPLE=30 runs 30 random mutants per module (SEED=n for another set).
mutate: $(VENV)/.installed-mutate
	$(BIN)/python scripts/mutate.py $(if $(SAMPLE),--sample $(SAMPLE) --seed $(or $(SEED),0)) $(MODULE)

clean:
	rm -rf $(VENV) runs .pytest_cache build
