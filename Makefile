# Two commands set up a fresh clone: `make demo` and `make test`.
# Each creates .venv if needed and installs what it runs; nothing else is assumed on the machine.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# torch is pinned first so that the extras never pull a multi-GB CUDA build in its place.
TORCH  ?= torch==2.13.0

.PHONY: demo test lint serve install-core install-all clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --upgrade pip

# Predicting needs only the core: numpy, soundfile, soxr, onnxruntime, av.
$(VENV)/.core: pyproject.toml | $(PY)
	$(PIP) install -e .
	touch $@

$(VENV)/.all: pyproject.toml | $(PY)
	$(PIP) install $(TORCH)
	$(PIP) install -e '.[train,serve,encoders,ray,dev]'
	touch $@ $(VENV)/.core

install-core: $(VENV)/.core
install-all: $(VENV)/.all

demo: $(VENV)/.core
	$(VENV)/bin/ser predict examples/

test: $(VENV)/.all
	$(PY) -m pytest -q

# ruff's rules and line length are in pyproject.toml ([tool.ruff]).
lint: $(VENV)/.all
	$(VENV)/bin/ruff check .

serve: $(VENV)/.all
	$(VENV)/bin/ser serve --host 127.0.0.1 --port 8000

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info src/*.egg-info
