# CNN Lab — the two commands are `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book
PYTEST := $(PY) -m pytest

# Inline figures vanish in kernels started with MPLBACKEND=Agg.
unexport MPLBACKEND

.PHONY: book test unit nbval build browser standalone notebooks check-notebooks bench bench-haswell vendor venv clean help \
        student tag-solutions lint labs

help:
	@echo "make book       build the HTML book into _build/html (creates .venv)"
	@echo "make test       lint, unit tests, nbval on every notebook, book build, browser test"
	@echo "make lint       ruff and the notebook hygiene check"
	@echo "make notebooks  re-execute every notebook in place, deterministically"
	@echo "make student    the student edition (no solutions): _student/ and _build/student/html"
	@echo "make labs       the labs as an nbgrader course in _labs/, with their release versions"
	@echo "make bench      time cnnlab against PyTorch; writes benchmarks/results/latest.json"
	@echo "make bench-haswell  the same with OpenBLAS's AVX2 kernels forced; writes .../haswell.json"

# --- environments ----------------------------------------------------------
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.book-installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[book]"
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.book-installed $(VENV)/.grading-installed

$(VENV)/.grading-installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[book,grading]"
	touch $@ $(VENV)/.book-installed

venv: $(VENV)/.dev-installed

# --- web assets served by the book itself (MathJax, RequireJS, ipywidgets) --
_vendor/.copied: package.json package-lock.json tools/vendor_assets.py $(wildcard assets/*)
	npm ci --no-audit --no-fund --loglevel=error
	$(PYTHON) tools/vendor_assets.py
	touch $@

vendor: _vendor/.copied

# --- the book --------------------------------------------------------------
# --all: an incremental build hides warnings from unchanged pages.
build:
	$(JB) build --all --builder html --warningiserror --nitpick --keep-going .

book: $(VENV)/.book-installed vendor
	$(MAKE) --no-print-directory build
	@echo
	@echo "The book is built. Open file://$(CURDIR)/_build/html/index.html"
	@echo "or serve it: $(PY) -m http.server -d _build/html 8000"

# --- the student edition ---------------------------------------------------
# The notebooks without their cells tagged "solution", a NotImplementedError cell in place of each
# code solution, built like `make build` with sphinx-exercise's hide_solutions on
# (tools/student_config.yml). `make tag-solutions` keeps the tags in step with the markers.
student: $(VENV)/.book-installed vendor
	$(PY) tools/make_student.py

tag-solutions: $(VENV)/.book-installed
	$(PY) tools/tag_solutions.py

# --- the labs --------------------------------------------------------------
# An nbgrader course in _labs/ (git-ignored): the labs of book/labs/ as sources and, from the real
# `nbgrader generate_assignment`, their release versions (no solution code, no hidden tests).
labs: $(VENV)/.grading-installed
	$(PY) tools/make_labs.py

# --- tests -----------------------------------------------------------------
# ruff over the package, tests, tools, benchmarks and the notebooks' code cells (pyproject.toml
# [tool.ruff]); then the notebooks' hygiene: stored outputs, no timing metadata, no stored errors
# outside raises-exception cells, code lines <= 88 characters (no execution: about a second).
lint:
	$(PY) -m ruff check .
	$(PY) tools/check_notebooks.py

unit:
	$(PYTEST) -n 2 tests --ignore=tests/test_browser.py

# Kernels run as tools/execute_notebooks.py runs them when it stores the outputs: one BLAS
# thread and one OpenBLAS kernel set (its SERIAL settings, where the reason is written).
NOTEBOOK_ENV := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0 \
                OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512
nbval:
	$(NOTEBOOK_ENV) $(PYTEST) -n 2 --dist loadfile --nbval --nbval-current-env \
	  --nbval-sanitize-with nbval_sanitize.cfg book

browser:
	$(PYTEST) tests/test_browser.py

# Every notebook from a fresh kernel of a separate environment holding only the
# "book" extra (non-editable install): what a learner on Binder or Colab gets.
standalone:
	$(PY) tools/run_standalone.py --python $(PYTHON)

# Each phase in turn; at the end (also after a failure) the seconds each one took.
TEST_PHASES := student labs lint unit nbval standalone build browser
test: $(VENV)/.dev-installed vendor
	@times=""; status=0; \
	for phase in $(TEST_PHASES); do \
	  start=$$(date +%s); \
	  $(MAKE) --no-print-directory $$phase || { status=$$?; times="$$times $$phase:failed"; break; }; \
	  times="$$times $$phase:$$(( $$(date +%s) - start ))"; \
	done; \
	echo; echo "make test: seconds per phase"; \
	for t in $$times; do printf '  %-11s %6s\n' "$${t%%:*}" "$${t#*:}"; done; \
	exit $$status

# --- notebooks -------------------------------------------------------------
notebooks: $(VENV)/.book-installed
	$(PY) tools/execute_notebooks.py

check-notebooks: $(VENV)/.book-installed
	$(PY) tools/execute_notebooks.py --check

# --- benchmarks (timings need an otherwise idle machine; ~10-15 min) --------
bench: $(VENV)/.dev-installed
	$(PY) benchmarks/bench.py

# the same with OpenBLAS's AVX2 ("Haswell") kernels forced, for the page's comparison
bench-haswell: $(VENV)/.dev-installed
	OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512 $(PY) benchmarks/bench.py \
		--inherit-blas-env --rounds 3 --no-naive --no-memory --out benchmarks/results/haswell.json

clean:
	rm -rf _build _vendor _student .venv-standalone
