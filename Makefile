# One command each for the two jobs in the README:
#   make example   install into .venv and run pytest-bytecount on examples/
#   make check     lint, types, docs and the suite on every CPython 3.10-3.15 found
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
SUPPORTED := 3.10 3.11 3.12 3.13 3.14 3.15

# pyenv keeps each CPython under its own version. Put every installed 3.10-3.15
# on PATH by its own bin directory: tox finds interpreters there, whereas it
# skips pyenv's shims for versions missing from `pyenv global`.
ifneq ($(shell command -v pyenv 2>/dev/null),)
PYENV_BINS := $(shell root=$$(pyenv root); for v in $$(pyenv versions --bare | grep -E '^3\.1[0-5]\.[0-9]+$$' | sort -V); do printf '%s:' "$$root/versions/$$v/bin"; done)
export PATH := $(PYENV_BINS)$(PATH)
endif

# CPython 3.14 and 3.15 come from the team's shared `newer-cpython` tool where
# pyenv has none (`.ci/run` calls it); its default install directory is used
# when present, like any other place interpreters live.
NEWER_CPYTHON_BIN ?= /opt/newer-cpython/bin
ifneq ($(wildcard $(NEWER_CPYTHON_BIN)/python3.1*),)
export PATH := $(NEWER_CPYTHON_BIN):$(PATH)
endif

.PHONY: example check clean

# The example's output in the README is CPython 3.12's (counts differ between
# versions), so .venv is made with 3.12 where it is found, else with the
# newest 3.1x that can make one; the example says which it ran.
VENV_PYTHON ?= $(shell for v in 3.12 3.13 3.11 3.10; do \
  if command -v python$$v >/dev/null 2>&1 && python$$v -c 'import ensurepip' 2>/dev/null; then \
    echo python$$v; break; fi; done)

$(VENV)/bin/python:
	$(or $(VENV_PYTHON),python3) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(VENV)/bin/python -m pip install --quiet -e . tox
	touch $@

# The example suite has one test over its budget on purpose: pytest exits 1.
# Any other status (a crash, a usage error) fails this target.
example: $(VENV)/.installed
	cd examples && status=0 && PYTHONHASHSEED=0 ../$(VENV)/bin/pytest -v --bytecount-report=bytecount.json || status=$$?; \
	if [ $$status -ne 1 ]; then echo "expected exactly one failing budget (exit 1), got exit $$status"; exit 1; fi; \
	echo "examples: the over-budget test failed as intended ($$(../$(VENV)/bin/python -c 'import sys; print("CPython", sys.version.split()[0])')); report in examples/bytecount.json"

check: $(VENV)/.installed
	@envs="lint,type,docs"; found=""; \
	for v in $(SUPPORTED); do \
	  if command -v python$$v >/dev/null 2>&1 && python$$v -c '' 2>/dev/null; then \
	    envs="$$envs,py$${v/./}"; found="$$found $$v"; fi; \
	done; \
	echo "CPython found:$$found"; \
	case "$$found" in *3.1[01]*) ;; *) echo "need CPython 3.10 or 3.11 (settrace engine)"; exit 1;; esac; \
	case "$$found" in *3.1[2-5]*) ;; *) echo "need CPython 3.12+ (sys.monitoring engine)"; exit 1;; esac; \
	$(VENV)/bin/tox run -e "$$envs"

clean:
	rm -rf $(VENV) .tox docs/_build examples/bytecount.json
