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

.PHONY: lab test test-root test-rootless test-fakeroot test-unavailable stress nbval bench notebooks clean

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
	$(MAKE) test-fakeroot
	$(MAKE) test-unavailable
	$(MAKE) nbval

# The tier of whoever runs make: root in CI and classroom VMs, an ordinary
# user on a laptop.
test-root: $(STAMP)
	$(VENV)/bin/python -m pytest

# The browser test alone: make lab's server on a temp copy of notebooks/,
# Debian's chromium through Playwright (tests/test_browser.py says what it
# checks). `make test` runs it as part of test-root; screenshots go to
# artifacts/browser/ (or $NSLAB_ARTIFACTS/browser).
test-browser: $(STAMP)
	$(VENV)/bin/python -m pytest -m browser tests/test_browser.py

test-rootless:
	@if [ "$$(id -u)" -ne 0 ]; then \
		echo "test-rootless: not root, so 'make test-root' already ran the unprivileged tier; skipping"; \
	else \
		bash .ci/rootless; \
	fi

# Fake root: euid 0 inside `unshare --user --map-root-user`; the kit must
# call it "userns-root" and still work (.ci/fakeroot says how).
test-fakeroot: $(STAMP)
	bash .ci/fakeroot

# Each namespace type made unavailable in turn (max_<type>_namespaces=0 in a
# throwaway user namespace, never on the host): that one is reported by name,
# the other seven work.
test-unavailable: $(STAMP)
	$(VENV)/bin/python .ci/unavailable

# The long versions: 2000 spawn/close cycles, 40x the hypothesis examples,
# 20 rounds of a fault at every setup step; one summary line each.
stress: $(STAMP)
	$(VENV)/bin/python -m stress

# Exit 5 is pytest's "no tests collected": not a failure while there is
# nothing to check, any other non-zero is.
nbval: $(STAMP)
ifeq ($(NOTEBOOKS),)
	@echo "nbval: no notebooks/*.ipynb yet; nothing to check"
else
	@# The stored notebooks must be built from their sources as committed.
	$(VENV)/bin/python notebooks/build.py --check
	@rc=0; $(VENV)/bin/python -m pytest -p no:cacheprovider --nbval $(if $(SANITIZE),--nbval-sanitize-with $(SANITIZE)) $(NOTEBOOKS) || rc=$$?; \
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

# Student editions: each exercise's solution replaced by a stub and the
# outputs that would give it away cleared (nslab/_student.py says how). They
# are generated, never committed: student/.gitignore ignores the directory.
.PHONY: student
student: $(STAMP)
ifeq ($(NOTEBOOKS),)
	@echo "student: no notebooks/*.ipynb yet; nothing to convert"
else
	$(VENV)/bin/python -m nslab student --out student $(NOTEBOOKS)
endif

clean:
	rm -rf $(VENV) build bench/build nslab.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
