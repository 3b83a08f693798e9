"""Make ``ansible_collections.progressive.delivery`` importable for plain pytest.

The checkout is the collection root, so it is exposed under a temporary
``ansible_collections/progressive/delivery`` directory; ``ansible_collections`` is a namespace
package, so kubernetes.core from the installed ``ansible`` package stays importable beside it.
"""

import atexit
import os
import shutil
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _expose_collection():
    base = tempfile.mkdtemp(prefix="pd-unit-")
    atexit.register(shutil.rmtree, base, True)
    parent = os.path.join(base, "ansible_collections", "progressive")
    os.makedirs(parent)
    os.symlink(ROOT, os.path.join(parent, "delivery"))
    sys.path.insert(0, base)
    import ansible_collections  # noqa: F401  (namespace package; refresh its search path)

    path = os.path.join(base, "ansible_collections")
    if path not in ansible_collections.__path__:
        ansible_collections.__path__.append(path)


_expose_collection()
