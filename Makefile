# Two entry points (see README): `make run` and `make test`. Each installs what it needs first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test install install-dev browser lint bench

$(VENV)/.runtime: requirements.txt pyproject.toml
	@free=$$(df -Pk . | awk 'NR==2 {print int($$4 / 1024)}'); [ "$$free" -ge 3000 ] || \
		echo "make: only $$free MB free on this disk; the install needs about 2,500 MB" >&2
	$(PYTHON) -m venv $(VENV) || { echo "make: could not create $(VENV) with $(PYTHON)" \
		"(is the disk full? df -h .; does $(PYTHON) have venv and ensurepip?)" >&2; exit 1; }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .  # the `quake` command (pyproject.toml)
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

# Debian's Chromium drives the real-browser test (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

run: install
	$(PY) -m streamlit run app.py

test: install-dev browser
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q

bench: install-dev
	for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done
