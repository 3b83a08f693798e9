"""Time limits of the tests: guards against a hang, never a measure of speed.

A release on a shared two-core machine that runs several sandboxes, the static checks and other
people's work takes several times as long as on a quiet one, and a guard that fires there fails a
test that would have passed. Every wait of the tests and of this package goes through ``guard``,
which stretches its limit by ``PDTEST_TIMEOUT_FACTOR`` (default 3; 1 for quick failures while
working on a test). How fast a release is, is measured by the benchmark (``make bench``).
"""
import os

FACTOR = float(os.environ.get("PDTEST_TIMEOUT_FACTOR") or 3)


def guard(seconds):
    """``seconds`` stretched by the suite's timeout factor."""
    return seconds * FACTOR
