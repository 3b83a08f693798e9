"""The checkout under test, and the collection it holds made visible to Python and Ansible.

The package is installed editable from a checkout; that checkout is the one it tests.
"""
import atexit
import functools
import os
import shutil
import sys
import tempfile
from pathlib import Path

# tests/support/pdtest/checkout.py -> the repository (and collection) root is three levels up.
ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "podinfo"
# Not resolved: a venv's python is a symlink, and its directory holds ansible-playbook and kubectl.
VENV_BIN = Path(sys.executable).parent


@functools.lru_cache(maxsize=None)
def collections_path():
    """A temporary directory holding ``ansible_collections/progressive/delivery``, a link to the
    checkout (the collection root); removed when the process exits."""
    base = Path(tempfile.mkdtemp(prefix="pd-collections-"))
    atexit.register(shutil.rmtree, str(base), True)
    link = base / "ansible_collections" / "progressive" / "delivery"
    link.parent.mkdir(parents=True)
    link.symlink_to(ROOT)
    return base


def import_collection():
    """Make ``ansible_collections.progressive.delivery`` importable for plain pytest.

    ``ansible_collections`` is a namespace package, so kubernetes.core from the installed
    ``ansible`` package stays importable beside it.
    """
    base = str(collections_path())
    if base not in sys.path:
        sys.path.insert(0, base)
    import ansible_collections  # noqa: F401  pylint: disable=import-outside-toplevel

    path = os.path.join(base, "ansible_collections")
    if path not in ansible_collections.__path__:
        ansible_collections.__path__.append(path)
