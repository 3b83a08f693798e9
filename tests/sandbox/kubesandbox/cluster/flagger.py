"""Flagger's own binaries, built from the release pinned in tests/sandbox/flagger/go.mod.

The kubelet runs Flagger's `loadtester` for the pods of its image (runtime/podrunner.py); the
`flagger` controller is the peer the collection is compared with.
"""
from ..runtime.layout import REPO_ROOT
from .controlplane import built_binaries_dir

BINARIES = ("flagger", "loadtester")
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build_flagger.sh"
BIN_DIR_ENV = "KUBESANDBOX_FLAGGER_BIN"


def binaries_dir(environ):
    """The directory holding `flagger` and `loadtester`: $KUBESANDBOX_FLAGGER_BIN, else the build's."""
    return built_binaries_dir(BUILD_SCRIPT, BIN_DIR_ENV, BINARIES, environ)
