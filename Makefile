# crisp-eml: `make demo` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_PACKAGES := gcc make gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm espeak-ng poppler-utils postgresql chromium \
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user emscripten nodejs node-acorn portaudio19-dev alsa-utils \
  gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc
PYTEST_WORKERS ?= 2

.PHONY: setup system-deps demo test lint typecheck bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[ml,reports,dev]'
	touch $(STAMP)

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "warning: missing Debian packages (run as root to install):$$missing"; fi; \
	fi

setup: system-deps $(STAMP)

demo: setup
	$(BIN)/python -m crisp_eml.demo

test: setup lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -q tests

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: setup
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) demo-project .pytest_cache .mypy_cache .ruff_cache

# Remove each permission check in turn; the permission tests must fail every time (see the script).
.PHONY: permission-check
permission-check: $(STAMP)
	$(BIN)/python scripts/check_permission_removal.py

# Mutation testing of the modules that hold guarantees (mutmut, one module at a time with its own tests).
# Slow (minutes per module): a nightly-style job, not part of `make test`. Table: mutants/scores.md.
# MUTATION_ARGS: module names (quant planner personas ...) or `--phase 2`; see scripts/mutation.py.
.PHONY: mutation
mutation: $(STAMP)
	$(BIN)/python scripts/mutation.py $(MUTATION_ARGS)
