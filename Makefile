# Two commands, each bootstrapping .venv on first use (README "Quickstart").
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.reprokit-installed
# Quiet TF's C++ start-up lines (docs/reference/feasibility.md §4); real errors still print.
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test bench notebooks clean-venv

$(STAMP): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev,export]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/repro demo

# -rs: a skipped test prints its reason (the real-file tests name the missing ../shared/real;
# REPROKIT_REQUIRE_REAL=1 turns that into a failure).
test: $(STAMP)
	$(BIN)/python -m pytest -rs tests

notebooks: $(STAMP)
	$(BIN)/python -m reprokit.notebooks --out runs/notebooks

bench: $(STAMP)
	$(BIN)/python -m reprokit.bench pipeline

clean-venv:
	rm -rf $(VENV)
