"""Fixtures shared by the integration tests (the sandbox and namespace fixtures come from tests/conftest.py)."""
import pytest

from pdtest.load import Load
from pdtest.sandbox import wait_for_series

from canary_world import canary_service_series


@pytest.fixture
def load(sandbox, namespace):
    """Starts steady load through Traefik for the test's namespace once its world is built (call
    it), and waits until Prometheus has a canary series; stopped by PID afterwards."""
    started = []

    def start():
        started.append(Load(sandbox, namespace, rps=30, seconds=120))
        wait_for_series(sandbox, canary_service_series(namespace), samples=5)

    yield start
    for running in started:
        running.stop()
