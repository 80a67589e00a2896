# SDM: `make run` starts the app with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
BENCH ?=
export FLASK_APP := wsgi

.PHONY: run test test-e2e bench lint deps clean

deps: $(VENV)/.installed static/vendor/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

static/vendor/.installed: node_modules/.package-lock.json
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	cp node_modules/@picocss/pico/css/pico.min.css static/vendor/pico.min.css
	touch $@

run: deps
	SDM_DEMO=$${SDM_DEMO:-1} SDM_APP_URL=$${SDM_APP_URL:-http://127.0.0.1:$(PORT)/} $(BIN)/flask sdm setup
	@echo
	@echo "SDM is starting on http://127.0.0.1:$(PORT)"
	@SDM_DEMO=$${SDM_DEMO:-1} $(BIN)/flask sdm demo-login
	@echo
	SDM_DEMO=$${SDM_DEMO:-1} $(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --worker-class gthread \
		--workers 2 --threads 16 --timeout 120 --access-logfile - wsgi:app

test: deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: deps
	$(BIN)/python bench/__main__.py $(BENCH)

lint: deps
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) node_modules static/vendor
