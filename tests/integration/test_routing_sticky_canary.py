"""A sticky canary (analysis.sessionAffinity) through real Traefik: clients that keep their cookies
never alternate between versions during a release, and after a rollback all are on the primary."""
import threading
from collections import Counter

import pytest
import requests

from pdtest.apps import deploy_podinfo, set_image
from pdtest.load import Load
from pdtest.manifests import fast_canary, host_for, write_canary
from pdtest.playbooks import run_playbook
from pdtest.sandbox import get_json

from traffic_world import canary_status, primary_version, release_watched, scratch_namespace

COOKIE = "podinfo-sticky"


class StickyClients(threading.Thread):
    """Browsers through Traefik: ``arrivals`` clients (each its own cookie jar) before the release,
    as many more every round while the canary has a weight, up to ``most``; every client asks
    once per round. Each answer is recorded with the Canary's phase at the start of its round;
    the version comes from the app's X-Version header, so failed answers count too."""

    def __init__(self, sandbox, namespace, most=40, arrivals=2):
        super().__init__(daemon=True)
        self.url = sandbox.traefik_url + "/version"
        self.sandbox = sandbox
        self.namespace = namespace
        self.host = host_for(namespace)
        self.most = most
        self.arrivals = arrivals
        self.sessions = []
        self.answers = []  # per client, (phase, version) in order
        self.order = []  # (phase, client, version) for every answer, in the order they came
        self.done = threading.Event()

    def ask(self, index, phase=None):
        resp = self.sessions[index].get(self.url, headers={"Host": self.host}, timeout=10)
        version = resp.headers.get("X-Version", "HTTP {0}".format(resp.status_code))
        self.answers[index].append((phase, version))
        self.order.append((phase, index, version))
        return version

    def run(self):
        while not self.done.is_set():
            status = canary_status(self.sandbox, self.namespace)
            phase = status.get("phase")
            # A few users before the release, the others arrive while the canary has a weight.
            moving = phase == "Progressing" and (status.get("canaryWeight") or 0) > 0
            arriving = self.arrivals if moving or not self.sessions else 0
            for _new in range(min(arriving, self.most - len(self.sessions))):
                self.sessions.append(requests.Session())
                self.answers.append([])
            for index in range(len(self.sessions)):
                try:
                    self.ask(index, phase)
                except requests.RequestException as exc:
                    self.answers[index].append((phase, "error " + exc.__class__.__name__))

    def stop(self):
        self.done.set()
        self.join(30)

    def close(self):
        for session in self.sessions:
            session.close()

    def summary(self):
        """How often each phase saw each version, and how many clients there were."""
        return Counter((p, v) for p, _c, v in self.order), len(self.sessions)

    def versions(self, index, phases=None):
        return [v for p, v in self.answers[index] if phases is None or p in phases]

    def clients(self):
        return range(len(self.sessions))


def switches(versions):
    return sum(1 for a, b in zip(versions, versions[1:]) if a != b)


@pytest.fixture(scope="module")
def sticky_app(sandbox, tmp_path_factory):
    """podinfo 4.0.5 initialised as a sticky canary target, with steady cookie-less load for the
    metrics."""
    namespace, delete_namespace = scratch_namespace(sandbox, "sticky")
    load = None
    try:
        deploy_podinfo(sandbox, namespace)
        doc = fast_canary(namespace, threshold=3, max_weight=60, step_weight=20)
        doc["spec"]["analysis"]["sessionAffinity"] = {"cookieName": COOKIE, "maxAge": 600,
                                                      "sameSite": "Lax", "path": "/"}
        canary_file = write_canary(tmp_path_factory.mktemp("sticky"), doc)
        first = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})
        assert first.returncode == 0, first.stdout[-4000:]
        load = Load(sandbox, namespace, rps=30)
        yield namespace, canary_file
    finally:
        if load is not None:
            load.stop()
        delete_namespace()


def test_the_traefik_service_carries_flaggers_cookie_as_its_sticky_cookie(sandbox, sticky_app):
    namespace, _canary_file = sticky_app
    ts = sandbox.kubectl("-n", namespace, "get", "traefikservices.traefik.io", "podinfo",
                         "-o", "jsonpath={.spec.weighted.sticky.cookie.name}/{.spec.weighted.sticky.cookie.maxAge}")
    assert ts.stdout == COOKIE + "/600"
    resp = requests.get(sandbox.traefik_url + "/version", headers={"Host": host_for(namespace)}, timeout=10)
    assert COOKIE in resp.cookies
    # The attributes of Flagger's Set-Cookie, as Traefik writes them (httpOnly is ours by default).
    attributes = {a.strip().split("=")[0].lower(): a.strip().partition("=")[2]
                  for a in resp.headers["Set-Cookie"].split(";")[1:]}
    assert attributes == {"path": "/", "max-age": "600", "httponly": "", "samesite": "Lax"}, resp.headers


def test_sticky_clients_never_alternate_during_a_promoted_release(sandbox, sticky_app):
    namespace, canary_file = sticky_app
    old = primary_version(sandbox, namespace)
    set_image(sandbox, namespace, "4.0.6")

    result, clients = release_watched(sandbox, canary_file, StickyClients(sandbox, namespace))
    try:
        assert result.returncode == 0, result.stdout[-4000:]
        assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["phase"] == "Succeeded"
        analysing = [(c, v) for p, c, v in clients.order if p == "Progressing"]
        # Some clients reached the canary while the primary still answered others...
        reached = {c for c, v in analysing if v == "4.0.6"}
        assert reached and {c for c, v in analysing if v == old} - reached, clients.summary()
        # ...and while the weights moved, every client was answered by one version only.
        for client in clients.clients():
            during = clients.versions(client, {"Progressing"})
            assert switches(during) == 0, during
        # After the promotion everyone has the new version, whatever their cookie says.
        for client in clients.clients():
            assert [clients.ask(client) for _request in range(3)] == ["4.0.6"] * 3
    finally:
        clients.close()


def test_after_a_rollback_every_sticky_client_is_back_on_the_primary(sandbox, sticky_app):
    namespace, canary_file = sticky_app
    old = primary_version(sandbox, namespace)
    set_image(sandbox, namespace, "4.0.7", env={"SANDBOX_FAIL_RATE": "0.5"})

    result, clients = release_watched(sandbox, canary_file, StickyClients(sandbox, namespace))
    try:
        assert result.returncode != 0, "the play must fail after a rollback"
        assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["phase"] == "Failed"
        analysing = [(c, v) for p, c, v in clients.order if p == "Progressing"]
        pinned = {c for c, v in analysing if v == "4.0.7"}
        assert pinned and {c for c, v in analysing if v == old} - pinned, clients.summary()
        # Over the whole run a client was answered by one version, or by the canary until the
        # rollback and by the primary after it: never back and forth.
        for client in clients.clients():
            versions = clients.versions(client)
            assert set(versions) <= {old, "4.0.7"}, versions
            assert switches(versions) <= 1, versions
            assert versions[-1] == old or old not in versions, versions
        # The pinned clients' cookies still name the canary's Service, which has left the
        # TraefikService: Traefik picks again, and only the primary is there.
        for client in clients.clients():
            assert [clients.ask(client) for _request in range(5)] == [old] * 5
    finally:
        clients.close()
