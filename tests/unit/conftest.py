"""Make ``ansible_collections.progressive.delivery`` importable for plain pytest: the checkout is
the collection root, exposed under a temporary ``ansible_collections/progressive/delivery``.

``server`` starts recording HTTP servers on 127.0.0.1 (``server(reply=...)``), stopped when the
test ends, passed or failed."""

import pytest

from pdtest.checkout import import_collection
from pdtest.http_recorder import RecordingServer

import_collection()


@pytest.fixture
def server():
    started = []

    def start(**kwargs):
        started.append(RecordingServer(**kwargs))
        return started[-1]

    try:
        yield start
    finally:
        for one in started:
            one.stop()
