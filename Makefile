# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A CPU build of torch 2.13.0 lies on this disk; pinning it keeps pip from fetching a CUDA build.
TORCH_PIN := torch==2.13.0

.PHONY: install demo test test-fast bench-searchers clean

$(STAMP): pyproject.toml Makefile
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_PIN)"
	$(BIN)/pip install -q -e ".[dev,torch]" "$(TORCH_PIN)"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/digits_mlp.py

test: $(STAMP)
	$(BIN)/python -m pytest -q -x --timeout=900

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not ray and not slow"

clean:
	rm -rf $(VENV) .pytest_cache
