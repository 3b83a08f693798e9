"""Blue/green (analysis.iterations without match) through real Traefik: for the iterations the
canary is checked by the load tester's requests to its own Service while every request through
Traefik is answered by the primary; then all traffic is switched and the primary takes the new
template, or the release is rolled back with all traffic on the primary."""
import re
import threading
import time

import pytest
import requests

from pdtest.apps import set_image
from pdtest.manifests import fast_canary, host_for
from pdtest.load import versions_through_traefik
from pdtest.sandbox import get_json

from traffic_world import canary_status, primary_version, release_watched, initialised_app

ITERATIONS = 3


class Traffic(threading.Thread):
    """Rounds of requests through Traefik; each answer is kept with the Canary's status read after
    its round, so a round whose later read still says Progressing at weight 0 ended before the
    switch to the canary (the status says weight 100 before the route changes)."""

    def __init__(self, sandbox, namespace):
        super().__init__(daemon=True)
        self.sandbox = sandbox
        self.namespace = namespace
        self.rounds = []  # (time read, phase, canaryWeight, [versions])
        self.done = threading.Event()

    def run(self):
        headers = {"Host": host_for(self.namespace)}
        with requests.Session() as session:
            while not self.done.is_set():
                versions = []
                for _request in range(10):
                    try:
                        resp = session.get(self.sandbox.traefik_url + "/version", headers=headers, timeout=10)
                        versions.append(resp.headers.get("X-Version", "HTTP {0}".format(resp.status_code)))
                    except requests.RequestException as exc:
                        versions.append("error " + exc.__class__.__name__)
                status = canary_status(self.sandbox, self.namespace)
                self.rounds.append((time.time(), status.get("phase"), int(status.get("canaryWeight") or 0),
                                    versions))

    def stop(self):
        self.done.set()
        self.join(30)

    def during_iterations(self):
        """The versions of the rounds that ended while the canary was analysed without traffic."""
        return [v for _t, phase, weight, versions in self.rounds
                if phase == "Progressing" and weight == 0 for v in versions]

    def last_before_switch(self):
        return max(t for t, phase, weight, _v in self.rounds if phase == "Progressing" and weight == 0)


def canary_check(namespace):
    """A rollout webhook: the load tester sends 40 requests to the canary Service itself and the
    check fails on any 5xx (or when none was answered 200)."""
    cmd = ("out=$(hey -n 40 -c 4 http://podinfo-canary.{0}/); echo \"$out\" | grep -q '\\[200\\]' "
           "&& ! echo \"$out\" | grep -q '\\[5[0-9][0-9]\\]'").format(namespace)
    return {"name": "canary-requests", "type": "rollout", "url": "http://flagger-loadtester.{0}/".format(namespace),
            "timeout": "20s", "metadata": {"type": "bash", "cmd": cmd}}


def blue_green_canary(namespace):
    doc = fast_canary(namespace, threshold=2, metrics=[], webhooks=[canary_check(namespace)])
    analysis = doc["spec"]["analysis"]
    for key in ("stepWeight", "maxWeight"):
        analysis.pop(key, None)
    analysis["iterations"] = ITERATIONS
    return doc


@pytest.fixture(scope="module")
def bg_app(sandbox, tmp_path_factory):
    """podinfo 4.0.5 initialised as the target of a blue/green Canary, with the load tester."""
    yield from initialised_app(sandbox, tmp_path_factory.mktemp("bg"), "bluegreen", blue_green_canary,
                               loadtester=True)


def canary_series(sandbox, namespace, at, since=None):
    """Traefik's request series of the canary Service as Prometheus had them at ``at`` (their
    last sample within ``since`` before it, when given: Traefik drops a Service's series once no
    route leads to it any more)."""
    selector = 'traefik_service_requests_total{{service=~"{0}-podinfo-canary-[0-9]+@kubernetescrd"}}'.format(
        namespace)
    query = "last_over_time({0}[{1}])".format(selector, since) if since else selector
    resp = requests.get(sandbox.prometheus_url + "/api/v1/query", timeout=10, params={
        "query": query, "time": "{0:.3f}".format(at)})
    resp.raise_for_status()
    return resp.json()["data"]["result"]


def test_the_canary_gets_no_live_traffic_until_it_is_promoted(sandbox, bg_app):
    namespace, canary_file = bg_app
    old = primary_version(sandbox, namespace)
    set_image(sandbox, namespace, "4.0.6")

    result, traffic = release_watched(sandbox, canary_file, Traffic(sandbox, namespace))

    assert result.returncode == 0, result.stdout[-4000:]
    status = get_json(sandbox, namespace, "canary", "podinfo")["status"]
    assert status["phase"] == "Succeeded"
    assert status["iterations"] == 0 and re.search(rf"Step {ITERATIONS}/{ITERATIONS} ", result.stdout)
    # For the iterations every user was answered by the primary...
    seen = traffic.during_iterations()
    assert len(seen) >= 10 * ITERATIONS and set(seen) == {old}, set(seen)
    # ...and Traefik saw no request for the canary Service: the load tester's requests went to it
    # directly, so Traefik's built-in metrics have nothing to say about the canary then.
    assert canary_series(sandbox, namespace, traffic.last_before_switch()) == []
    # The same series exist once the switch sent the canary the users' requests.
    assert canary_series(sandbox, namespace, time.time(), since="15m") != []
    # After the switch and the promotion everyone gets the new version.
    assert set(versions_through_traefik(sandbox, namespace, 30)) == {"4.0.6"}
    events = sandbox.kubectl("-n", namespace, "get", "events", "-o", "jsonpath={.items[*].message}").stdout
    assert "Routing all traffic to canary" in events


def test_a_failing_canary_is_rolled_back_with_traffic_on_the_primary(sandbox, bg_app):
    namespace, canary_file = bg_app
    old = primary_version(sandbox, namespace)
    set_image(sandbox, namespace, "4.0.7", env={"SANDBOX_FAIL_RATE": "0.5"})

    result, traffic = release_watched(sandbox, canary_file, Traffic(sandbox, namespace))

    assert result.returncode != 0, "the play must fail after a rollback"
    status = get_json(sandbox, namespace, "canary", "podinfo")["status"]
    assert status["phase"] == "Failed" and status["failedChecks"] == 0
    assert "failed checks threshold reached 2" in result.stdout
    assert {v for _t, _p, _w, versions in traffic.rounds for v in versions} == {old}
    assert set(versions_through_traefik(sandbox, namespace, 30)) == {old}
    ts = get_json(sandbox, namespace, "traefikservice.traefik.io", "podinfo")
    assert [s["name"] for s in ts["spec"]["weighted"]["services"]] == ["podinfo-primary"]
