from pathlib import Path

import pytest

import kubesandbox
import pdtest

# Every test suite can ask for the `sandbox` and `namespace` fixtures; a sandbox only starts when
# a test requests one.
pytest_plugins = ["kubesandbox.fixtures"]

# Files whose tests each drive whole releases, longest first. With several pytest workers
# (make test, --no-loadscope-reorder) files are handed out in collection order, so starting these
# first keeps one long file from running alone at the end. `make test` keeps pytest's JUnit report
# in build/reports/pytest.xml; scripts/suite_durations.py prints the files by their time from it.
LONG_FIRST = ("test_chaos.py", "test_role_service_name.py", "test_role_seed_and_restart.py",
              "test_judge_inconclusive_pause.py", "test_role_alerts_and_events.py",
              "test_role_watched_waits.py", "test_routing_sticky_canary.py",
              "test_target_daemonset.py", "test_routing_blue_green.py", "test_reliability_resume.py",
              "test_role_flagger_metrics.py", "test_role_rollback.py", "test_role_promotion.py",
              "test_routing_mirroring.py", "test_routing_ab_testing.py", "test_tsdb_gated_releases.py",
              "test_role_bad_input.py", "test_reliability_traffic.py", "test_role_delete_canary.py")


def pytest_configure(config):
    # The test packages are installed editable, from one checkout per venv: tests run against the
    # collection of the checkout they were installed from, so that must be this one.
    here = Path(__file__).resolve().parent
    for package, tree in ((kubesandbox, here / "sandbox"), (pdtest, here / "support")):
        if Path(package.__file__).resolve().parents[1] != tree:
            raise pytest.UsageError(
                "{0} is installed from {1}, not from this checkout; run `make setup` here".format(
                    package.__name__, Path(package.__file__).resolve().parents[1]))


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return LONG_FIRST.index(name) if name in LONG_FIRST else len(LONG_FIRST)
    items.sort(key=rank)  # stable: the order within a file and among the rest is kept
