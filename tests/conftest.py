import sys
from pathlib import Path

# Every test suite can ask for the `sandbox` and `namespace` fixtures; a sandbox only starts when
# a test requests one.
sys.path.insert(0, str(Path(__file__).resolve().parent / "sandbox"))

pytest_plugins = ["kubesandbox.fixtures"]
