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
# Two worker processes (pytest-xdist), each taking whole files so a module's fixtures are built
# once: 12.4 min instead of about 21 on 2 CPUs (docs/performance.md, "The test suite");
# PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -rs -n $(PYTEST_WORKERS) --dist loadfile tests

notebooks: $(STAMP)
	$(BIN)/python -m reprokit.notebooks --out runs/notebooks

bench: $(STAMP)
	$(BIN)/python -m reprokit.bench pipeline

clean-venv:
	rm -rf $(VENV)
