# Quick start: `make run` serves on http://127.0.0.1:8080; `make test` runs the whole suite;
# `make dashboard` graphs a running Confab (statsd → Graphite) on http://127.0.0.1:8090/dashboard/confab.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: run cluster dashboard graphite test install ui bench-broker bench-collab bench-chat bench-scaleout bench-search bench-sends bench-accounts clean

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

# statsd → Graphite on this machine for a running Confab (ops/metrics_stack.py); prints the dashboard's URL.
# Debian's graphite-carbon and graphite-web come from apt (as root; otherwise it says what to install),
# Etsy's statsd from ops/statsd/package-lock.json.
GRAPHITE_DEBS := graphite-carbon graphite-web
STATSD := ops/statsd/node_modules/.installed
$(STATSD): ops/statsd/package-lock.json
	npm ci --prefix ops/statsd --silent --no-audit --no-fund --omit=optional
	touch $@

graphite:
	@if [ ! -x /usr/bin/carbon-cache ] || [ ! -d /usr/lib/python3/dist-packages/graphite ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $(GRAPHITE_DEBS); \
	  else echo "make dashboard needs: sudo apt-get install $(GRAPHITE_DEBS)" >&2; exit 1; fi; fi

dashboard: $(DEV) $(STATSD) graphite
	$(PY) ops/metrics_stack.py $(ARGS)

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

# whether the reset, verification-resend and sign-in routes' timing tells who has an account (accounts.md)
bench-accounts: $(DEV)
	$(PY) bench/accounts.py $(ARGS)

# a send by REST, /ws and incoming webhook, and the SDK catching up after being away (sends.md)
bench-sends: $(DEV)
	$(PY) bench/sends.py $(ARGS)

bench-scaleout: $(DEV)
	$(BENCH_NPM)
	$(PY) bench/chat.py --scaleout --conns 400 --rooms 20 --paced 2000 --seconds 10 $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis bench/.peer-venv
