# The README's commands: `make test` (all set-up, then the whole suite) and the main job.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: test tour verify clean book figures book-test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[verify,plot,data,dev]"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -n 2 -q $(PYTEST_ARGS)

tour: $(STAMP)
	$(VENV)/bin/optimlab verify

verify: tour

clean:
	rm -rf $(VENV) _build .pytest_cache .hypothesis

# The book (chapters + executed notebooks -> _build/html/index.html). Set-up included: the `book`
# extra, MathJax 3 from npm (pinned, served locally), Chromium from Debian for the browser test.
BOOK_STAMP  := $(VENV)/.book-installed
MATHJAX_VER := 3.2.2
MATHJAX     := _build/mathjax/tex-svg-full.js
MATHJAX_TAG := _build/mathjax/.mathjax-$(MATHJAX_VER)

$(BOOK_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e ".[verify,plot,data,dev,book]"
	touch $(BOOK_STAMP)

$(MATHJAX_TAG):
	npm install --silent --no-audit --no-fund --no-save --no-package-lock --prefix _build/npm mathjax@$(MATHJAX_VER)
	mkdir -p _build/mathjax
	cp _build/npm/node_modules/mathjax/es5/tex-svg-full.js $(MATHJAX)
	touch $(MATHJAX_TAG)

# The figures are committed; tests/book/test_figures.py fails when one differs from what its code draws.
figures: $(BOOK_STAMP)
	$(PY) -m optimlab.plots figures

book: $(BOOK_STAMP) $(MATHJAX_TAG)
	rm -rf _build/html _build/doctrees
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html -c book . _build/html

# Headless Chromium over every built page (installs Debian's chromium when missing).
book-test: $(BOOK_STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	OPTIMLAB_BOOK_TEST=1 $(PY) -m pytest -q tests/book/test_browser.py
