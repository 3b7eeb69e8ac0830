# Candor — every command a developer or CI needs. `make help` lists them.
# Only Python 3.11 and make are assumed: the first target that needs it builds .venv.

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# PostgreSQL for tests: a server URL; the suite creates (and drops) its own database there.
CANDOR_TEST_DATABASE_URL ?=
export CANDOR_TEST_DATABASE_URL

.DEFAULT_GOAL := help
.PHONY: help venv demo serve worker migrate test lint format typecheck test-sqlite \
        test-postgres migrations-check openapi bench clean

help: ## List every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv and install Candor with its development tools

demo: $(STAMP) ## Run the API on a fresh SQLite file with demo data (PORT=… or CANDOR_PORT; prints an admin key)
	$(BIN)/candor demo $(if $(PORT),--port $(PORT))

serve: $(STAMP) ## Run the API on CANDOR_DATABASE_URL (migrate first)
	$(BIN)/candor serve

worker: $(STAMP) ## Run a worker on CANDOR_DATABASE_URL (fires due SLA checks)
	$(BIN)/candor worker

migrate: $(STAMP) ## alembic upgrade head on CANDOR_DATABASE_URL
	$(BIN)/candor migrate

test: lint typecheck ## Lint, type-check, then the suite on SQLite and (if a URL is set) PostgreSQL, side by side
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres SUITES_SIDE_BY_SIDE=1

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## ruff format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP) ## mypy --strict over app/, tools/, tests/ and bench/
	$(BIN)/mypy app tools tests bench alembic/env.py

test-sqlite: $(STAMP) ## The suite on a temporary SQLite file
	env -u CANDOR_TEST_DATABASE_URL -u CANDOR_REQUIRE_POSTGRES CANDOR_SUITE_PART=$(if $(and $(SUITES_SIDE_BY_SIDE),$(strip $(CANDOR_TEST_DATABASE_URL))),sqlite,) $(BIN)/pytest -q

test-postgres: $(STAMP) ## The suite and migration checks on PostgreSQL, when CANDOR_TEST_DATABASE_URL is set
ifneq ($(strip $(CANDOR_TEST_DATABASE_URL)),)
	$(MAKE) --no-print-directory migrations-check
	CANDOR_SUITE_PART=$(if $(SUITES_SIDE_BY_SIDE),postgres,) $(BIN)/pytest -q
else
	@echo "test-postgres: CANDOR_TEST_DATABASE_URL is not set; PostgreSQL run skipped"
	@if [ "$$CANDOR_REQUIRE_POSTGRES" = "1" ]; then echo "but CANDOR_REQUIRE_POSTGRES=1"; exit 1; fi
endif

migrations-check: $(STAMP) ## upgrade head, check, downgrade base, upgrade again on CANDOR_MIGRATIONS_URL
	@test -n "$$CANDOR_MIGRATIONS_URL" || { echo "set CANDOR_MIGRATIONS_URL to an empty database"; exit 1; }
	CANDOR_DATABASE_URL="$$CANDOR_MIGRATIONS_URL" $(BIN)/alembic upgrade head
	CANDOR_DATABASE_URL="$$CANDOR_MIGRATIONS_URL" $(BIN)/alembic check
	CANDOR_DATABASE_URL="$$CANDOR_MIGRATIONS_URL" $(BIN)/alembic downgrade base
	CANDOR_DATABASE_URL="$$CANDOR_MIGRATIONS_URL" $(BIN)/alembic upgrade head

openapi: $(STAMP) ## Regenerate openapi/openapi.json from the app
	$(BIN)/python -m app.openapi_export openapi/openapi.json

bench: $(STAMP) ## Benchmarks (print figures as ratios to a same-run baseline; sweep needs PostgreSQL)
	$(BIN)/python bench/business_time.py
	$(BIN)/python bench/sweep.py
	$(BIN)/python bench/jobs.py

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
