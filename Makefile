# eexit — every target lists itself in `make help`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run test test-all clean clean-outputs

help: ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-22s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv (if missing) and install eexit with the tested torch pins

run: $(STAMP) ## install, then run the default experiment (digits, CPU, minutes); ARGS="key=value ..."
	$(PY) run.py $(ARGS)

test: $(STAMP) ## install, then run the fast test suite (< 10 min on 2 cores)
	WANDB_MODE=disabled $(PY) -m pytest -m "not slow" -q $(ARGS)

test-all: $(STAMP) ## the fast suite plus the slow tests
	WANDB_MODE=disabled $(PY) -m pytest -q $(ARGS)

clean-outputs: ## delete run outputs (outputs/, multirun/)
	rm -rf outputs multirun

clean: clean-outputs ## also delete the backbone cache and the venv
	rm -rf .cache $(VENV)
