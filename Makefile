# progressive.delivery — developer entry points. `make demo` and `make test` set up what they need.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SANDBOX_DIR ?= .sandbox
export SANDBOX_DIR
SANDBOX := $(PY) -m kubesandbox.cli

.PHONY: setup test demo unit sandbox-test integration sanity lint build sandbox-up sandbox-down sandbox-status bench compare chaos clean control-plane flagger \
	changelog-lint docs docs-lint ee matrix matrix-sanity

setup:
	@bash scripts/setup.sh

# pytest workers for `make test`: each runs its own sandbox and takes whole test files, so a
# file's shared fixtures are built once. The sandbox tests are bound by CPU on a two-core machine,
# but they also wait (analysis intervals, rollouts, scrapes), and a third worker fills those waits:
# with two, pytest alone took 77 min of a fresh-clone CI run of 87; the last CI run with three took
# 56 min in all.
# The chaos test runs in its worker's sandbox, so three workers mean three control planes.
TEST_WORKERS ?= 3
export TEST_WORKERS

## Everything CI runs: pytest (unit, sandbox, integration) and, beside it, the static checks:
## sanity on every supported ansible-core, lint, the build, changelog and docs lint, the EE's
## build context, the unit tests on the other ansible-core and kubernetes.core versions.
test: setup
	@bash scripts/test.sh

unit: setup
	$(PY) -m pytest -p no:cacheprovider tests/unit

sandbox-test: setup
	$(PY) -m pytest -p no:cacheprovider tests/sandbox

integration: setup
	$(PY) -m pytest -p no:cacheprovider tests/integration

sanity: setup
	@bash scripts/sanity.sh

lint: setup
	@bash scripts/lint.sh

build: setup
	@bash scripts/build.sh

changelog-lint: setup
	$(VENV)/bin/antsibull-changelog lint

## The HTML documentation site (antsibull-docs) in build/docs/html.
docs: setup
	@bash scripts/docs.sh html

docs-lint: setup
	@bash scripts/docs.sh lint

## The execution environment's build context (ansible-builder create) in build/ee.
ee: setup
	@bash scripts/ee.sh

## Unit tests on ansible-core 2.17 and 2.18 (venvs in build/matrix) and with the newest kubernetes.core 6.x.
matrix: setup
	@bash scripts/matrix.sh

## The matrix plus ansible-test sanity on 2.17 and 2.18, pylint only on 2.19 (make test runs it beside pytest).
matrix-sanity: setup
	@bash scripts/matrix.sh --sanity

demo: setup
	@bash scripts/demo.sh

bench: setup
	@bash scripts/bench.sh

## Flagger's controller and the role release the same app side by side in one sandbox; prints both
## columns and writes the tables into docs/flagger-compatibility.md and docs/performance.md.
compare: setup
	@bash scripts/compare.sh

## 20 releases with random kills and API faults; CI runs a reduced form inside make test.
chaos: setup
	$(PY) scripts/chaos.py --runs $${RUNS:-20}

## etcd, kube-apiserver, kube-controller-manager and kube-scheduler (built on first use), our kubelet,
## Traefik and Prometheus; prints the path of the env file to source.
sandbox-up: setup
	@$(SANDBOX) up

sandbox-down:
	@$(SANDBOX) down

sandbox-status:
	@$(SANDBOX) status

## Builds (once, then cached outside the checkout) the real kube-apiserver, controller-manager,
## scheduler and etcd pinned in tests/sandbox/controlplane; prints their directory last.
control-plane:
	@bash scripts/build_control_plane.sh

## Builds (once, then cached outside the checkout) Flagger's controller and load tester pinned in
## tests/sandbox/flagger; prints their directory last.
flagger:
	@bash scripts/build_flagger.sh

clean: sandbox-down
	rm -rf build tests/output
