# Quick start: `make run` serves on http://127.0.0.1:8080; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: run cluster test install ui bench-broker bench-collab bench-chat bench-scaleout bench-search bench-sends clean

$(RUNTIME): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# the Python SDK and confab-cli (client/), editable, on the pinned dependencies above
$(DEV): $(RUNTIME) requirements-dev.txt client/pyproject.toml
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e ./client
	touch $@

install: $(DEV)

run: $(RUNTIME)
	$(PY) app.py $(ARGS)

test: $(DEV)
	@if [ -n "$$CI" ] && [ ! -d web/ui/node_modules/playwright-core ]; then $(UI_NPM); fi
	$(PY) -m pytest

# the web UI: web/ui's pinned npm packages, then the bundle in web/static (committed: `make run` needs no node)
UI_NPM := npm ci --prefix web/ui --silent --no-audit --no-fund
ui:
	$(UI_NPM)
	node web/ui/build.mjs

bench-broker: $(DEV)
	$(PY) bench/broker.py

# the benches' node packages (load generators, the Node y-websocket server, Hocuspocus), pinned in bench/package-lock.json
BENCH_NPM := npm ci --prefix bench --silent --no-audit --no-fund

# Confab's /yjs vs the Node y-websocket server, Hocuspocus and pycrdt-websocket (installs itself into
# bench/.peer-venv on first run); ARGS="--only paced,closed,hot" picks loads
bench-collab: $(DEV)
	$(BENCH_NPM)
	$(PY) bench/collab.py $(ARGS)

# chat vs a bare flask-sock server; ARGS="--only closed,paced,seed003,storm,stuck" picks parts
bench-chat: $(DEV)
	$(BENCH_NPM)
	$(PY) bench/chat.py $(ARGS)

# the chat workload on one instance and on two, against the local PostgreSQL and Redis (scaleout.md)
# two instances on 8081/8082 against the local PostgreSQL and Redis (README, Scale-out)
cluster: $(DEV)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/honcho -f Procfile.cluster start

bench-search: $(DEV)
	$(PY) bench/search.py $(ARGS)

# a send by REST, /ws and incoming webhook, and the SDK catching up after being away (sends.md)
bench-sends: $(DEV)
	$(PY) bench/sends.py $(ARGS)

bench-scaleout: $(DEV)
	$(BENCH_NPM)
	$(PY) bench/chat.py --scaleout --conns 400 --rooms 20 --paced 2000 --seconds 10 $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis bench/.peer-venv
