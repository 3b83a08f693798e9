"""A promotion against an in-memory API: what it writes, and that a run killed during the primary's
rollout leaves routing and the canary for the next run."""
import copy

import pytest
from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

from ansible_collections.progressive.delivery.plugins.module_utils.controller_watch import (
    ControllerWatch,
    RunGone,
)
from ansible_collections.progressive.delivery.plugins.module_utils.promotion import promote

from pdtest.fake_time import FakeTime

TEMPLATE = {"metadata": {"labels": {"app": "podinfo"}},
            "spec": {"containers": [{"name": "podinfod", "image": "stefanprodan/podinfo:4.0.6"}]}}


class Obj(dict):
    def to_dict(self):
        return copy.deepcopy(dict(self))


class Kind(object):
    """One kind's objects; every write is logged in the API's order."""

    def __init__(self, api, kind, objects):
        self.api = api
        self.kind = kind
        self.objects = dict(((o["metadata"]["namespace"], o["metadata"]["name"]), o) for o in objects)

    def get(self, name, namespace):
        if (namespace, name) not in self.objects:
            raise NotFoundError(ApiException(status=404, reason="Not Found"))
        obj = copy.deepcopy(self.objects[(namespace, name)])
        if self.kind == "Deployment" and name.endswith("-primary") and self.api.rolled_out():
            obj["status"] = {"observedGeneration": obj["metadata"]["generation"], "replicas": 2,
                             "updatedReplicas": 2, "availableReplicas": 2}
        return Obj(obj)

    def replace(self, body, namespace, name):
        stored = copy.deepcopy(body)
        stored["metadata"]["resourceVersion"] = str(int(body["metadata"]["resourceVersion"]) + 1)
        if self.kind == "Deployment":
            stored["metadata"]["generation"] = stored["metadata"]["generation"] + 1
        self.objects[(namespace, name)] = stored
        self.api.writes.append((self.kind, name))
        return Obj(stored)


class Api(object):
    """Deployments podinfo (the canary, scaled up) and podinfo-primary (the old template), and the
    TraefikService at 70/30. The primary's rollout ends ``rollout_seconds`` after its update."""

    def __init__(self, clock, rollout_seconds):
        self.clock = clock
        self.rollout_seconds = rollout_seconds
        self.updated_at = None
        self.writes = []

        def deployment(name, image, replicas):
            template = copy.deepcopy(TEMPLATE)
            template["spec"]["containers"][0]["image"] = image
            if name.endswith("-primary"):
                template["metadata"]["labels"] = {"app": name}
            return {"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": name, "namespace": "test", "resourceVersion": "1", "generation": 1},
                    "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template},
                    "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
                               "availableReplicas": replicas}}

        route = {"apiVersion": "traefik.io/v1alpha1", "kind": "TraefikService",
                 "metadata": {"name": "podinfo", "namespace": "test", "resourceVersion": "1"},
                 "spec": {"weighted": {"services": [{"name": "podinfo-primary", "port": 80, "weight": 70},
                                                    {"name": "podinfo-canary", "port": 80, "weight": 30}]}}}
        self.served = {
            ("apps/v1", "Deployment"): Kind(self, "Deployment", [
                deployment("podinfo", "stefanprodan/podinfo:4.0.6", 2),
                deployment("podinfo-primary", "stefanprodan/podinfo:4.0.5", 2)]),
            ("v1", "ConfigMap"): Kind(self, "ConfigMap", []),
            ("v1", "Secret"): Kind(self, "Secret", []),
            ("traefik.io/v1alpha1", "TraefikService"): Kind(self, "TraefikService", [route]),
        }
        self.resources = self

    def get(self, api_version, kind):  # client.resources.get
        if (api_version, kind) not in self.served:
            raise ResourceNotFoundError("No matches found")
        return self.served[(api_version, kind)]

    def rolled_out(self):
        if ("Deployment", "podinfo-primary") in self.writes and self.updated_at is None:
            self.updated_at = self.clock.now
        return self.updated_at is not None and self.clock.now >= self.updated_at + self.rollout_seconds


def fake_proc(tmp_path, parents):
    for pid, parent in parents.items():
        (tmp_path / str(pid)).mkdir(exist_ok=True)
        (tmp_path / str(pid) / "stat").write_text("{0} (x) S {1} 1 1 0\n".format(pid, parent))


@pytest.fixture
def world(tmp_path):
    clock = FakeTime()
    fake_proc(tmp_path, {50: 40, 40: 30, 30: 20, 20: 1})  # module, sh, worker, ansible-playbook
    watch = ControllerWatch(pid=50, proc_root=str(tmp_path))
    api = Api(clock, rollout_seconds=8)
    return clock, watch, api, tmp_path


def run_promotion(clock, watch, api):
    real_sleep = watch.sleep
    watch.sleep = lambda seconds: real_sleep(seconds, sleep=clock.sleep, clock=clock.clock)
    return promote(api, "test", "podinfo", 60, api_version="traefik.io/v1alpha1", watch=watch)


def test_a_promotion_updates_the_primary_then_routes_and_scales_down(world):
    clock, watch, api, _proc = world

    result = run_promotion(clock, watch, api)

    assert result["changed"] is True
    assert api.writes == [("Deployment", "podinfo-primary"), ("TraefikService", "podinfo"),
                          ("Deployment", "podinfo")]


def test_a_run_killed_while_the_primary_rolls_out_leaves_routing_and_the_canary(world):
    clock, watch, api, proc = world
    sleep = clock.sleep

    def killed_at_3s(seconds):
        sleep(seconds)
        if clock.now >= 3:  # ansible-playbook SIGKILLed; its worker re-parented to init
            (proc / "20" / "stat").unlink(missing_ok=True)
            fake_proc(proc, {30: 1})

    clock.sleep = killed_at_3s

    with pytest.raises(RunGone, match="process 30 was orphaned"):
        run_promotion(clock, watch, api)

    assert clock.now < 8  # stopped during the wait, not after the rollout
    assert api.writes == [("Deployment", "podinfo-primary")]
    route = api.served[("traefik.io/v1alpha1", "TraefikService")].objects[("test", "podinfo")]
    assert [s["weight"] for s in route["spec"]["weighted"]["services"]] == [70, 30]


def test_a_run_killed_as_the_rollout_ends_routes_nothing(world):
    clock, watch, api, proc = world
    rolled_out = api.rolled_out

    def killed_when_the_primary_is_ready():
        if rolled_out():  # the read that finds the rollout done; the run dies right after it
            (proc / "20" / "stat").unlink(missing_ok=True)
            fake_proc(proc, {30: 1})
            return True
        return False

    api.rolled_out = killed_when_the_primary_is_ready

    with pytest.raises(RunGone):
        run_promotion(clock, watch, api)

    assert api.writes == [("Deployment", "podinfo-primary")]


def test_a_promotion_started_for_a_run_already_gone_writes_nothing(world):
    clock, _watch, api, proc = world
    # ansible-playbook was killed while the module was starting: its worker (30, a session of its
    # own running ansible-playbook's command line) is already init's child.
    for pid, parent, session, command_line in ((1, 0, 1, b"/sbin/init\0"),
                                               (30, 1, 30, b"python\0/venv/bin/ansible-playbook\0canary.yml\0")):
        (proc / str(pid)).mkdir(exist_ok=True)
        (proc / str(pid) / "stat").write_text("{0} (x) S {1} {2} {2} 0\n".format(pid, parent, session))
        (proc / str(pid) / "cmdline").write_bytes(command_line)
    (proc / "20" / "stat").unlink()
    watch = ControllerWatch(pid=50, proc_root=str(proc))

    with pytest.raises(RunGone, match="orphaned before the module started"):
        run_promotion(clock, watch, api)

    assert api.writes == []
