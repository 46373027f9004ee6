# Member-service assistant. `make setup` is idempotent; `make run` and `make test` call it first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
VENV_RASA := .venv-rasa
VENV_BENCH := .venv-bench
PY := $(VENV)/bin/python
RASA := $(VENV_RASA)/bin/rasa
MODEL := models/member-assistant.tar.gz
JIEBA_DICT := var/jieba/catalog.txt
SHOP_DB := var/shop.db

export PYTHONPATH := $(CURDIR)
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export ACTION_SERVER_PORT ?= 5055
export RASA_TRACKER_DB ?= $(CURDIR)/var/rasa_tracker.db
export RASA_EVENTS_DB ?= $(CURDIR)/var/rasa_events.db

NLU_DATA := $(shell find data -name '*.yml' 2>/dev/null)
PACKAGE_SRC := $(shell find personalization -name '*.py' 2>/dev/null)

.PHONY: help setup run test test-python test-rasa validate bench bench-nlu bench-chat bench-recs bench-recs-scale clean

help:
	@echo "make setup   - create both virtual environments, train the Rasa model, seed the demo database"
	@echo "make run     - setup, then serve Rasa (:5005, REST, token API) and the action server (:5055); Ctrl-C stops"
	@echo "make test    - setup, then pytest + rasa data validate + rasa test (stories, held-out NLU)"
	@echo "make bench   - NLU held-out/cross-validation and chat latency benchmarks (figures in bench/results/)"
	@echo "make bench-web        - web app delivery: 50 member WebSockets + 5 agents, bot turns and handoff, vs Rasa REST"
	@echo "make demo-traffic     - play ~1,000 realistic conversations through the running \`make run\` (or DEMO_TRAFFIC_ARGS=--start-stack), then the analytics"
	@echo "make bench-recs       - recommender quality: MovieLens-100k vs RecBole Pop/ItemKNN/BPR, and the demo shop"
	@echo "make bench-recs-scale - recommender fit time, latency and memory at 100k members / 10k products / 2M interactions"
	@echo "make bench-analytics  - ops analytics: pipeline events/s and dashboard API p95 with 1M broker events"
	@echo "make bench-load       - 100 members for 5 min on /ws/chat (own stack), lost/duplicated counted end to end; BENCH_LOAD_ARGS=..."
	@echo "make test-faults      - kill the action server, restart Rasa, lock/fill the web app's database (real processes, ~4 min)"
	@echo "make run-distributed  - PostgreSQL, Redis, RabbitMQ, 2 Rasa + 2 action + 2 web replicas behind nginx (:8080); make stop-distributed"
	@echo "make test-distributed - start that deployment, run tests/distributed and the load bench against it, stop it"

# ---------------------------------------------------------------- environments
$(VENV_RASA)/.installed: requirements/rasa-deps.txt requirements/rasa-nodeps.txt requirements/rasa-sentiment.txt
	@echo "==> creating $(VENV_RASA) (Rasa server)"
	test -x $(VENV_RASA)/bin/python || $(PYTHON) -m venv $(VENV_RASA)
	$(VENV_RASA)/bin/pip install --quiet --progress-bar off -r requirements/rasa-deps.txt
	$(VENV_RASA)/bin/pip install --quiet --progress-bar off --no-deps --ignore-requires-python -r requirements/rasa-nodeps.txt
	$(VENV_RASA)/bin/pip install --quiet --progress-bar off --no-deps -r requirements/rasa-sentiment.txt
	touch $@

$(VENV)/.installed: requirements/app.txt requirements/app-nodeps.txt
	@echo "==> creating $(VENV) (action server, personalization, tests)"
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --progress-bar off -r requirements/app.txt
	$(VENV)/bin/pip install --quiet --progress-bar off --no-deps --ignore-requires-python -r requirements/app-nodeps.txt
	touch $@

# ---------------------------------------------------------------- data and model
$(JIEBA_DICT): personalization/jieba_dict.py personalization/catalog_data.py $(VENV)/.installed
	$(PY) -m personalization.jieba_dict $@

$(MODEL): $(VENV_RASA)/.installed $(JIEBA_DICT) $(NLU_DATA) domain.yml config.yml $(wildcard components/*.py)
	@echo "==> training the Rasa model (only when data, domain or config changed)"
	@start=$$(date +%s); $(RASA) train --fixed-model-name member-assistant --out models --quiet \
	  && echo "rasa train took $$(( $$(date +%s) - start ))s"
	touch $@

$(SHOP_DB): $(VENV)/.installed $(PACKAGE_SRC)
	@echo "==> seeding the demo member database"
	mkdir -p var
	$(PY) -m personalization seed > var/seed-summary.json
	@echo "==> training the shop recommender on it"
	$(PY) -m personalization train-recommender > var/recommender-summary.json
	touch $@

# Debian packages only `make test` needs: chromium (driven by Playwright in the browser tests), a
# Chinese font for it, and rabbitmq-server (the analytics feed from Rasa's Pika broker is tested
# against a throwaway server).
BROWSER_PACKAGES := chromium fonts-wqy-microhei rabbitmq-server
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BROWSER_STAMP := var/.browser-installed

$(BROWSER_STAMP):
	@mkdir -p var
	@dpkg -s $(BROWSER_PACKAGES) >/dev/null 2>&1 || { \
	  echo "==> installing $(BROWSER_PACKAGES) (browser and broker tests)"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null; }; }
	touch $@

# Chart.js 4 (UMD build) for the ops dashboard, vendored from the npm registry at setup; never a CDN.
CHARTJS_VERSION := 4.6.1
CHARTJS := web/static/vendor/chart.umd.min.js

$(CHARTJS):
	@echo "==> vendoring chart.js@$(CHARTJS_VERSION) (ops dashboard charts)"
	@command -v npm >/dev/null || { echo "npm is missing: install nodejs/npm (the ops dashboard falls back to tables)"; exit 1; }
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  (cd "$$tmp" && npm pack --silent chart.js@$(CHARTJS_VERSION) >/dev/null && tar -xzf chart.js-$(CHARTJS_VERSION).tgz) && \
	  mkdir -p $(@D) && cp "$$tmp/package/dist/chart.umd.min.js" $@.tmp && cp "$$tmp/package/LICENSE.md" $(@D)/chart.js-LICENSE.md && \
	  mv $@.tmp $@

setup: $(VENV_RASA)/.installed $(VENV)/.installed $(JIEBA_DICT) $(MODEL) $(SHOP_DB) $(CHARTJS)
	@echo "setup complete"

# ---------------------------------------------------------------- serve
run: setup
	$(PY) -m launcher

# ---------------------------------------------------------------- tests
test: setup $(BROWSER_STAMP) test-python test-rasa

test-python:
	$(PY) -m pytest

validate:
	$(RASA) data validate --domain domain.yml --data data --config config.yml

test-rasa: validate
	$(RASA) test core --model $(MODEL) --stories tests/stories --fail-on-prediction-errors --out var/results/core
	$(RASA) test nlu --model $(MODEL) --nlu tests/nlu/heldout.yml --out var/results/nlu

# ---------------------------------------------------------------- benchmarks
bench: bench-nlu bench-chat

bench-nlu: setup
	$(PY) -m bench.nlu_eval

bench-chat: setup
	$(PY) -m bench.chat_latency

# Load (issue 7): 100 members for 5 minutes through /ws/chat -> Rasa -> actions on an own stack (the
# embedded default); BENCH_LOAD_ARGS="--target-url http://127.0.0.1:8080 ..." drives a running deployment.
BENCH_LOAD_ARGS ?=
.PHONY: bench-load test-faults
bench-load: setup
	$(PY) -m bench.load $(BENCH_LOAD_ARGS)

# Fault tests (issue 7): real processes killed and restarted; skipped by a plain `pytest` (minutes).
test-faults: setup
	$(PY) -m pytest tests/faults -m faults

# 50 member WebSockets + 5 agent consoles through the web app (issue 5), Rasa REST as the baseline.
.PHONY: bench-web
bench-web: setup
	$(PY) -m bench.web_delivery

# Demo traffic for the ops dashboard (issue 6): conversations through the web app of `make run`
# (or its own stack: DEMO_TRAFFIC_ARGS="--start-stack"), demo agents on hand-offs, then the analytics
# pipeline once. Not `setup` as a prerequisite: a re-seed under a running `make run` would hurt.
DEMO_TRAFFIC_ARGS ?=
.PHONY: demo-traffic
demo-traffic: $(VENV)/.installed
	$(PY) -m bench.demo_traffic $(DEMO_TRAFFIC_ARGS)

# RecBole 1.2.1, the peer of the recommender benchmark, lives in its own venv (numpy<2, its own torch).
$(VENV_BENCH)/.installed: requirements/bench-recbole.txt
	@echo "==> creating $(VENV_BENCH) (RecBole peers for bench-recs)"
	test -x $(VENV_BENCH)/bin/python || $(PYTHON) -m venv $(VENV_BENCH)
	$(VENV_BENCH)/bin/pip install --quiet --progress-bar off -r requirements/bench-recbole.txt
	touch $@

bench-recs: $(VENV)/.installed $(SHOP_DB) $(VENV_BENCH)/.installed
	$(PY) -m bench.recs

bench-recs-scale: $(VENV)/.installed
	$(PY) -m bench.recs_scale

# Ops analytics with 1M synthetic broker events in a temp dir under /tmp (removed afterwards).
.PHONY: bench-analytics
bench-analytics: $(VENV)/.installed
	$(PY) -m bench.analytics_scale

# ---------------------------------------------------------------- dependency audit
# pip-audit (own throwaway venv under var/) over every pinned requirements file, against PyPI's
# vulnerability data; exit 1 on findings, 2 when packages could not be checked. See README "Security".
AUDIT_VENV := var/audit-venv
AUDIT_SERVICE ?= pypi
.PHONY: audit-deps
$(AUDIT_VENV)/.installed:
	test -x $(AUDIT_VENV)/bin/python || $(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/pip install --quiet --progress-bar off pip-audit==2.10.1
	touch $@

audit-deps: $(AUDIT_VENV)/.installed
	$(AUDIT_VENV)/bin/python tests/security/audit_deps.py --service $(AUDIT_SERVICE) requirements/*.txt

# ---------------------------------------------------------------- sentiment model
# The model ships in models/sentiment (~12 MB); this retrains it from scratch on the CPU (~3 min on 2 idle cores, ~11 min under load).
.PHONY: train-sentiment bench-sentiment

train-sentiment: $(VENV)/.installed
	$(PY) -m personalization.sentiment.train --out models/sentiment

bench-sentiment: $(VENV)/.installed
	$(PY) -m bench.sentiment

# ---------------------------------------------------------------- distributed deployment (issue 7)
# PostgreSQL, Redis, RabbitMQ, nginx from Debian packages (installed once, as the browser stamp),
# two Rasa replicas, two action servers and two web replicas on loopback: launcher/distributed.py.
DIST_PACKAGES := postgresql redis-server rabbitmq-server nginx-light
DIST_STAMP := var/.distributed-installed
DIST_URL := http://127.0.0.1:8080
# The load bench against the deployment (bench/load.py; its own defaults when empty).
DIST_LOAD_ARGS ?=
.PHONY: run-distributed stop-distributed test-distributed

$(DIST_STAMP):
	@mkdir -p var
	@dpkg -s $(DIST_PACKAGES) >/dev/null 2>&1 || { \
	  echo "==> installing $(DIST_PACKAGES) (distributed deployment)"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DIST_PACKAGES) >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DIST_PACKAGES) >/dev/null; }; }
	touch $@

run-distributed: setup $(DIST_STAMP)
	$(PY) -m launcher.distributed run

stop-distributed:
	$(PY) -m launcher.distributed stop

# Starts the deployment in the background, runs tests/distributed (end to end through nginx, Rasa
# fail-over) and the load bench against it, and stops it whatever happened.
test-distributed: setup $(DIST_STAMP)
	@mkdir -p var/distributed/logs; rm -f var/distributed/ready; start=$$(date +%s); \
	$(PY) -m launcher.distributed run > var/distributed/logs/launcher.log 2>&1 & pid=$$!; \
	trap '$(PY) -m launcher.distributed stop; wait $$pid 2>/dev/null; echo "test-distributed took $$(( $$(date +%s) - start ))s"' EXIT; \
	until [ -f var/distributed/ready ]; do \
	  kill -0 $$pid 2>/dev/null || { echo "the deployment did not start:"; tail -20 var/distributed/logs/launcher.log; exit 1; }; sleep 2; \
	done; echo "deployment ready after $$(( $$(date +%s) - start ))s"; \
	rc=0; DISTRIBUTED_URL=$(DIST_URL) $(PY) -m pytest tests/distributed -v -p no:cacheprovider || rc=$$?; \
	$(PY) -m bench.load --target-url $(DIST_URL) --pids $$(cat var/distributed/pids) \
	  --database-url "$$($(PY) -c 'from launcher.distributed import Layout; print(Layout().database_url())')" \
	  --deployment "nginx + 2 web + 2 Rasa + 2 action servers, PostgreSQL, Redis, RabbitMQ (make run-distributed)" \
	  $(DIST_LOAD_ARGS) || rc=$$?; \
	exit $$rc

clean:
	rm -rf var/results models/*.tar.gz
