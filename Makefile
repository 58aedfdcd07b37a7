# nslab: `make lab` starts the kit, `make test` runs every test tier.
# GNU make; recipes use plain sh.

PYTHON ?= python3
VENV ?= .venv
LAB_ARGS ?=
BENCH_ARGS ?=

# `make test` is the claim "the kit works on this machine", so a run in which
# every namespace test skipped fails here too, not only in CI (the tests read
# this variable). Opt out for a look around: make test NSLAB_MUST_WORK=0
NSLAB_MUST_WORK ?= 1
export NSLAB_MUST_WORK

STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.ipynb))
SANITIZE := $(wildcard notebooks/sanitize.cfg)
# Jupyter refuses to run as root without it.
ALLOW_ROOT = $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test test-root test-rootless nbval bench notebooks clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $@

lab: $(STAMP)
	mkdir -p notebooks
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ALLOW_ROOT) $(LAB_ARGS)

test: $(STAMP)
	$(VENV)/bin/ruff check nslab tests
	$(MAKE) test-root
	$(MAKE) test-rootless
	$(MAKE) nbval

# The tier of whoever runs make: root in CI and classroom VMs, an ordinary
# user on a laptop.
test-root: $(STAMP)
	$(VENV)/bin/python -m pytest

test-rootless:
	@if [ "$$(id -u)" -ne 0 ]; then \
		echo "test-rootless: not root, so 'make test-root' already ran the unprivileged tier; skipping"; \
	else \
		bash .ci/rootless; \
	fi

# Exit 5 is pytest's "no tests collected": not a failure while there is
# nothing to check, any other non-zero is.
nbval: $(STAMP)
ifeq ($(NOTEBOOKS),)
	@echo "nbval: no notebooks/*.ipynb yet; nothing to check"
else
	@rc=0; $(VENV)/bin/python -m pytest -p no:cacheprovider --nbval $(if $(SANITIZE),--sanitize-with $(SANITIZE)) $(NOTEBOOKS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "nbval: no cells collected"; exit 0; fi; exit $$rc
endif

bench: $(STAMP)
	@if [ -f bench/__main__.py ]; then \
		$(VENV)/bin/python -m bench $(BENCH_ARGS); \
	else \
		echo "bench: no bench/ package yet"; \
	fi

# Build every notebook from notebooks/src/*.py, run it in reading order and
# store the new outputs (notebooks/build.py says how).
notebooks: $(STAMP)
	$(VENV)/bin/python notebooks/build.py

clean:
	rm -rf $(VENV) build bench/build nslab.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
