"""Mirroring (analysis.mirror with iterations) through real Traefik: for the iterations the
primary answers every user while Traefik copies the requests to the canary, whose answers show in
Traefik's metrics of the canary Service and are judged by the built-in checks; then the release is
promoted, or rolled back with the mirror removed and all traffic on the primary."""
import re
import threading

import pytest
import requests

from pdtest.apps import set_image
from pdtest.manifests import fast_canary, host_for, write_canary
from pdtest.load import versions_through_traefik
from pdtest.playbooks import run_playbook
from pdtest.sandbox import get_json

from traffic_world import canary_status, primary_version, release_watched, resource_versions, initialised_app

ITERATIONS = 3
MIRROR_WEIGHT = 50


class Traffic(threading.Thread):
    """Requests through Traefik, each answer kept as (phase read after its round, version, code)."""

    def __init__(self, sandbox, namespace):
        super().__init__(daemon=True)
        self.sandbox = sandbox
        self.namespace = namespace
        self.answers = []
        self.done = threading.Event()

    def run(self):
        headers = {"Host": host_for(self.namespace)}
        with requests.Session() as session:
            while not self.done.is_set():
                answered = []
                for _request in range(10):
                    try:
                        resp = session.get(self.sandbox.traefik_url + "/version", headers=headers, timeout=10)
                        answered.append((resp.headers.get("X-Version"), resp.status_code))
                    except requests.RequestException as exc:
                        answered.append(("error " + exc.__class__.__name__, 0))
                phase = canary_status(self.sandbox, self.namespace).get("phase")
                self.answers.extend((phase, version, code) for version, code in answered)

    def stop(self):
        self.done.set()
        self.join(30)

    def during(self, phase):
        return [(version, code) for p, version, code in self.answers if p == phase]


def mirror_canary(namespace, **analysis):
    doc = fast_canary(namespace, threshold=2,
                      metrics=[{"name": "request-success-rate", "interval": "10s", "thresholdRange": {"min": 99}}])
    spec = doc["spec"]["analysis"]
    for key in ("stepWeight", "maxWeight"):
        spec.pop(key, None)
    spec.update(iterations=ITERATIONS, mirror=True, mirrorWeight=MIRROR_WEIGHT)
    spec.update(analysis)
    return doc


@pytest.fixture(scope="module")
def mirror_app(sandbox, tmp_path_factory):
    """podinfo 4.0.5 initialised as the target of a mirroring Canary."""
    yield from initialised_app(sandbox, tmp_path_factory.mktemp("mirror"), "mirror", mirror_canary)


def canary_requests(sandbox, namespace):
    """{status code: requests} Traefik counted for the canary Service, at their last sample in
    Prometheus: Traefik drops a Service's series once no route leads to it any more."""
    query = ('sum by (code) (last_over_time(traefik_service_requests_total'
             '{{service=~"{0}-podinfo-canary-[0-9]+@kubernetescrd"}}[15m]))').format(namespace)
    resp = requests.get(sandbox.prometheus_url + "/api/v1/query", params={"query": query}, timeout=10)
    resp.raise_for_status()
    return {r["metric"]["code"]: float(r["value"][1]) for r in resp.json()["data"]["result"]}


def traefik_service(sandbox, namespace):
    return get_json(sandbox, namespace, "traefikservice.traefik.io", "podinfo")["spec"]


def test_users_are_answered_by_the_primary_while_the_canary_gets_copies(sandbox, mirror_app):
    namespace, canary_file = mirror_app
    old = primary_version(sandbox, namespace)
    set_image(sandbox, namespace, "4.0.6")

    result, traffic = release_watched(sandbox, canary_file, Traffic(sandbox, namespace))

    assert result.returncode == 0, result.stdout[-4000:]
    status = get_json(sandbox, namespace, "canary", "podinfo")["status"]
    assert status["phase"] == "Succeeded" and status["iterations"] == 0
    assert re.search(rf"Step {ITERATIONS}/{ITERATIONS} ", result.stdout)
    # Every user was answered by the primary while the canary was analysed...
    during = traffic.during("Progressing")
    assert len(during) >= 10 * ITERATIONS and set(during) == {(old, 200)}, set(during)
    # ...and the canary answered the copies: Traefik counted its answers under the canary Service,
    # which is what the built-in check judged.
    assert canary_requests(sandbox, namespace).get("200", 0) > 0
    assert set(versions_through_traefik(sandbox, namespace, 30)) == {"4.0.6"}
    assert "mirroring" not in traefik_service(sandbox, namespace)


def test_a_failing_canary_is_rolled_back_with_the_mirror_removed(sandbox, mirror_app):
    namespace, canary_file = mirror_app
    old = primary_version(sandbox, namespace)
    set_image(sandbox, namespace, "4.0.7", env={"SANDBOX_FAIL_RATE": "0.5"})

    result, traffic = release_watched(sandbox, canary_file, Traffic(sandbox, namespace))

    assert result.returncode != 0, "the play must fail after a rollback"
    status = get_json(sandbox, namespace, "canary", "podinfo")["status"]
    assert status["phase"] == "Failed" and status["failedChecks"] == 0
    assert "failed checks threshold reached 2" in result.stdout
    # No user saw the canary's failures: the mirrored copies' answers were dropped by Traefik...
    assert {(version, code) for _p, version, code in traffic.answers} == {(old, 200)}
    # ...but they were counted, and they failed the check.
    assert canary_requests(sandbox, namespace).get("500", 0) > 0
    assert set(versions_through_traefik(sandbox, namespace, 30)) == {old}
    spec = traefik_service(sandbox, namespace)
    assert "mirroring" not in spec
    assert [s["name"] for s in spec["weighted"]["services"]] == ["podinfo-primary"]


def test_mirror_without_iterations_is_refused_before_anything_is_written(sandbox, mirror_app, tmp_path):
    namespace, _canary_file = mirror_app
    set_image(sandbox, namespace, "4.0.8")
    bad = mirror_canary(namespace)
    bad["spec"]["analysis"].pop("iterations")
    bad["spec"]["analysis"].update(stepWeight=10, maxWeight=30)
    before = resource_versions(sandbox, namespace)

    result = run_playbook(sandbox, extra_vars={"canary_file": str(write_canary(tmp_path, bad))})

    assert result.returncode != 0
    assert "spec.analysis.mirror needs spec.analysis.iterations" in result.stdout
    assert resource_versions(sandbox, namespace) == before
