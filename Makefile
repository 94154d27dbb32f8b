# Quick start: `make run` serves on http://127.0.0.1:8080; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: run test install bench-broker bench-collab bench-chat clean

$(RUNTIME): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(DEV): $(RUNTIME) requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(DEV)

run: $(RUNTIME)
	$(PY) app.py $(ARGS)

test: $(DEV)
	$(PY) -m pytest

bench-broker: $(DEV)
	$(PY) bench/broker.py

# the peer (pycrdt-websocket) installs itself into bench/.peer-venv on first run
bench-collab: $(DEV)
	$(PY) bench/collab.py $(ARGS)

# the load generator is node + ws, installed from bench/package-lock.json
bench-chat: $(DEV)
	npm ci --prefix bench --silent --no-audit --no-fund
	$(PY) bench/chat.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis bench/.peer-venv
