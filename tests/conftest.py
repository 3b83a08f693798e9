import sys
from pathlib import Path

# Every test suite can ask for the `sandbox` and `namespace` fixtures; a sandbox only starts when
# a test requests one.
sys.path.insert(0, str(Path(__file__).resolve().parent / "sandbox"))

pytest_plugins = ["kubesandbox.fixtures"]

# Files whose tests each drive whole releases, longest first. With several pytest workers
# (make test, --no-loadscope-reorder) files are handed out in collection order, so starting these
# first keeps one long file from running alone at the end.
LONG_FIRST = ("test_chaos.py", "test_role_seed_and_restart.py", "test_reliability_resume.py",
              "test_role_rollback.py", "test_role_promotion.py", "test_role_bad_input.py",
              "test_reliability_traffic.py")


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return LONG_FIRST.index(name) if name in LONG_FIRST else len(LONG_FIRST)
    items.sort(key=rank)  # stable: the order within a file and among the rest is kept
