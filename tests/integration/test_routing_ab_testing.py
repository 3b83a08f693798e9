"""A/B testing by header or cookie (analysis.iterations + analysis.match) through real Traefik:
matching requests reach only the canary for the iterations, unmatched ones never do; then the
release is promoted, or rolled back with all traffic on the primary; bad input writes nothing."""
import json
import re
import threading

import pytest
import requests

from pdtest.apps import set_image
from pdtest.manifests import fast_canary, host_for, write_canary
from pdtest.playbooks import run_playbook
from pdtest.sandbox import get_json

from traffic_world import canary_status, primary_version, release_watched, resource_versions, initialised_app

MATCH = [
    {"headers": {"x-canary": {"exact": "insider"}}},
    {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}},
]
# What each kind of request carries.
REQUESTS = {
    "header": {"x-canary": "insider"},
    "cookie": {"Cookie": "canary=always; theme=dark"},
    "unmatched": {},
    "near miss": {"x-canary": "insider-not", "Cookie": "canary=never"},
}
MATCHING = ("header", "cookie")


class Traffic(threading.Thread):
    """Each kind of request in turn through Traefik, each answer recorded with the Canary's phase
    at the start of its round and the version that answered (the app's X-Version header)."""

    def __init__(self, sandbox, namespace):
        super().__init__(daemon=True)
        self.sandbox = sandbox
        self.namespace = namespace
        self.answers = []  # (phase, kind, version)
        self.done = threading.Event()

    def send(self, session, kind):
        headers = dict(REQUESTS[kind], Host=host_for(self.namespace))
        resp = session.get(self.sandbox.traefik_url + "/version", headers=headers, timeout=10)
        return resp.headers.get("X-Version", "HTTP {0}".format(resp.status_code))

    def run(self):
        with requests.Session() as session:
            while not self.done.is_set():
                phase = canary_status(self.sandbox, self.namespace).get("phase")
                for _round in range(5):
                    for kind in REQUESTS:
                        try:
                            self.answers.append((phase, kind, self.send(session, kind)))
                        except requests.RequestException as exc:
                            self.answers.append((phase, kind, "error " + exc.__class__.__name__))

    def stop(self):
        self.done.set()
        self.join(30)

    def versions(self, kinds, phase="Progressing"):
        return [v for p, k, v in self.answers if p == phase and k in kinds]


def ab_canary(namespace, match=None):
    doc = fast_canary(namespace, threshold=3)
    analysis = doc["spec"]["analysis"]
    for key in ("stepWeight", "maxWeight"):
        analysis.pop(key, None)
    analysis.update(iterations=3, match=match if match is not None else MATCH)
    return doc


@pytest.fixture(scope="module")
def ab_app(sandbox, tmp_path_factory):
    """podinfo 4.0.5 initialised as the target of an A/B testing Canary."""
    yield from initialised_app(sandbox, tmp_path_factory.mktemp("ab"), "abtest", ab_canary)


def match_route(sandbox, namespace):
    done = sandbox.kubectl("-n", namespace, "get", "ingressroutes.traefik.io", "podinfo-canary-match",
                           "-o", "json", check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


def after_release(sandbox, namespace):
    """{kind: set of versions} of a few requests of each kind once the run is over."""
    traffic = Traffic(sandbox, namespace)
    with requests.Session() as session:
        return {kind: {traffic.send(session, kind) for _request in range(20)} for kind in REQUESTS}


def test_matching_requests_reach_only_the_canary_and_the_release_is_promoted(sandbox, ab_app):
    namespace, canary_file = ab_app
    old = primary_version(sandbox, namespace)
    set_image(sandbox, namespace, "4.0.6")

    result, traffic = release_watched(sandbox, canary_file, Traffic(sandbox, namespace))

    assert result.returncode == 0, result.stdout[-4000:]
    status = get_json(sandbox, namespace, "canary", "podinfo")["status"]
    assert status["phase"] == "Succeeded"
    # Every iteration ran; the status, as Flagger's, counts none after the release.
    assert re.search(r"Step 3/3 ", result.stdout) and status["iterations"] == 0
    # While the release was analysed, unmatched requests never reached the canary...
    assert set(traffic.versions(("unmatched", "near miss"))) == {old}
    # ...and matching ones did: from the primary until the canary's route was live, from the
    # canary only afterwards.
    for kind in MATCHING:
        seen = traffic.versions((kind,))
        assert "4.0.6" in seen, kind
        assert old not in seen[seen.index("4.0.6"):], (kind, seen)
    assert match_route(sandbox, namespace) is None
    assert after_release(sandbox, namespace) == {kind: {"4.0.6"} for kind in REQUESTS}


def test_a_failing_canary_is_rolled_back_and_matching_requests_return_to_the_primary(sandbox, ab_app):
    namespace, canary_file = ab_app
    old = primary_version(sandbox, namespace)
    set_image(sandbox, namespace, "4.0.7", env={"SANDBOX_FAIL_RATE": "0.5"})

    result, traffic = release_watched(sandbox, canary_file, Traffic(sandbox, namespace))

    assert result.returncode != 0, "the play must fail after a rollback"
    status = get_json(sandbox, namespace, "canary", "podinfo")["status"]
    assert status["phase"] == "Failed" and status["failedChecks"] == 0
    assert "failed checks threshold reached 3" in result.stdout
    assert set(traffic.versions(("unmatched", "near miss"))) == {old}
    assert "4.0.7" in traffic.versions(MATCHING)
    assert match_route(sandbox, namespace) is None
    assert after_release(sandbox, namespace) == {kind: {old} for kind in REQUESTS}


def test_a_regex_traefik_cannot_compile_is_refused_before_anything_is_written(sandbox, ab_app, tmp_path):
    namespace, _canary_file = ab_app
    set_image(sandbox, namespace, "4.0.8")
    bad = ab_canary(namespace, match=[{"headers": {"cookie": {"regex": "^(?!.*canary=never).*$"}}}])
    before = resource_versions(sandbox, namespace)

    result = run_playbook(sandbox, extra_vars={"canary_file": str(write_canary(tmp_path, bad))})

    assert result.returncode != 0
    assert "spec.analysis.match[0].headers.cookie.regex uses lookahead and lookbehind assertions" in result.stdout
    assert resource_versions(sandbox, namespace) == before
    assert match_route(sandbox, namespace) is None
