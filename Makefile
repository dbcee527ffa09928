# computesim — two commands on a fresh machine:
#   make run    set up .venv (first use) and build the result gallery
#   make test   set up .venv (first use) and run the test suite (.venv/bin/python -m pytest)
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
# Python >= 3.12 is required (Mesa 3.5). Use python3.12 from PATH, else a pyenv install.
PY312 := $(shell for c in python3.12 python3.13 $$(ls -d $$HOME/.pyenv/versions/3.1[23]*/bin/python3 /root/.pyenv/versions/3.1[23]*/bin/python3 2>/dev/null); do \
            $$c -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1 && { echo $$c; break; }; done)
WORKERS ?= 2
# 1: give .venv an interpreter with libpython linked in when the base Python runs from a
# shared libpython (install/link_interpreter.sh: the same results, faster runs); 0: keep it
LINK_INTERPRETER ?= 1

.PHONY: setup run test test-gallery lint bench docs clean help

help:
	@echo "make run    - create .venv if needed, then build the gallery (results/gallery/index.html)"
	@echo "make setup  - create .venv (python3.12) and install the project (LINK_INTERPRETER=0: keep the base interpreter as it is)"
	@echo "make test   - create .venv if needed, then run the test suite (ruff included)"
	@echo "make test-gallery - build the whole gallery and check its page and captions (~8 min)"
	@echo "make bench  - run the benchmarks under benchmarks/"
	@echo "make docs   - build the documentation site offline into site/ (open site/index.html)"
	@echo "make clean  - remove .venv and results/"

$(VENV)/.installed: pyproject.toml
	@test -n "$(PY312)" || { echo "error: Python >= 3.12 not found (tried python3.12, python3.13, ~/.pyenv/versions/3.12*)" >&2; exit 2; }
	@echo "creating $(VENV) with $(PY312)"
	$(PY312) -m venv $(VENV)
	@if [ "$(LINK_INTERPRETER)" = 1 ]; then bash install/link_interpreter.sh $(VENV); fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,dash,discover]'
	@touch $@

setup: $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/computesim gallery --workers $(WORKERS)

# The README's test command; .ci/run runs the same: make setup, then this pytest line.
test: $(VENV)/.installed
	$(BIN)/python -m pytest -n $(WORKERS) -q

# The whole gallery from scratch, its page in headless Chromium and its checked captions.
test-gallery: $(VENV)/.installed
	$(BIN)/python -m pytest -n $(WORKERS) -q -m gallery --dist loadfile

lint: $(VENV)/.installed
	$(BIN)/ruff check sim tests benchmarks experiments

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_run.py
	$(BIN)/python benchmarks/bench_discover.py

# The documentation site, built offline and strictly (a broken link or reference fails).
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	@echo "documentation in site/index.html"

clean:
	rm -rf $(VENV) results site
