# Two set-up commands: `make run` and `make test` (and `make docs` for the site). Each creates .venv when missing
# and installs into it.
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test docs chromium bench bench-ptbxl

# requirements.txt holds the pins; the package itself goes on top without touching them (--no-deps)
$(VENV)/.installed-run: requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(VENV)/.installed-run $@

run: $(VENV)/.installed-run
	$(VENV)/bin/streamlit run app.py --server.headless true --server.address 127.0.0.1 --server.port $(PORT)

# Browser tests drive Debian's chromium; never `playwright install`.
chromium:
	@command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)

test: $(VENV)/.installed-dev chromium
	$(PY) -m pytest -q tests

# The documentation site (mkdocs.yml, docs/) into site/; --strict: a broken link or a missing page fails it.
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# Self-contained benches; the real-data ones need a PTB-XL folder: `make bench-ptbxl DATA=PATH`.
bench: $(VENV)/.installed-dev
	for f in synth train jobs sweep ui; do $(PY) bench/$$f.py || exit 1; done

DATA ?= ../shared/data/ptbxl-mini
bench-ptbxl: $(VENV)/.installed-dev
	$(PY) bench/ptbxl.py --data $(DATA) && $(PY) bench/transfer.py --data $(DATA)
