"""canary_init on the sandbox: the article's podinfo and Canary, initialised as Flagger would."""
import json
import re

import pytest
import yaml

from pdtest.apps import deploy_podinfo, install_crds
from pdtest.checkout import EXAMPLES
from pdtest.load import versions_through_traefik
from pdtest.manifests import example_docs
from pdtest.playbooks import run_tasks
from pdtest.sandbox import canary_events, get_json, wait_until

# Flagger's annotations on the Services and the TraefikService it generates, so Flux leaves them be.
FLUX_DISABLED = {"kustomize.toolkit.fluxcd.io/reconcile": "disabled",
                 "helm.toolkit.fluxcd.io/driftDetection": "disabled"}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture(scope="module", autouse=True)
def crds(sandbox):
    install_crds(sandbox)


def seed_canary_file(tmp_path, namespace):
    """The seed's Canary, unchanged apart from its namespace (and the webhook URLs naming it)."""
    text = (EXAMPLES / "canary.yaml").read_text()
    text = text.replace("namespace: test", "namespace: " + namespace).replace(
        ".test/", "." + namespace + "/")
    path = tmp_path / "canary.yaml"
    path.write_text(text)
    return path


def add_config(sandbox, namespace):
    """Give podinfo a ConfigMap and a Secret to track, as the kustomize overlays often do."""
    sandbox.apply(yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "podinfo-config", "namespace": namespace},
         "data": {"color": "blue"}},
        {"apiVersion": "v1", "kind": "Secret",
         "metadata": {"name": "podinfo-token", "namespace": namespace},
         "stringData": {"token": "s3cr3t"}},
    ]), namespace=namespace)
    patch = {"spec": {"template": {"spec": {"containers": [{
        "name": "podinfod",
        "env": [{"name": "PODINFO_UI_COLOR",
                 "valueFrom": {"configMapKeyRef": {"name": "podinfo-config", "key": "color"}}}],
        "envFrom": [{"secretRef": {"name": "podinfo-token"}}],
    }]}}}}
    sandbox.kubectl("-n", namespace, "patch", "deployment/podinfo", "--type=strategic",
                    "-p", json.dumps(patch))
    sandbox.kubectl("-n", namespace, "rollout", "status", "deployment/podinfo", "--timeout=60s")


def test_init_creates_every_object_routes_all_traffic_to_primary_and_is_idempotent(
        sandbox, namespace, tmp_path):
    deploy_podinfo(sandbox, namespace)
    add_config(sandbox, namespace)
    canary_file = seed_canary_file(tmp_path, namespace)
    task = {"progressive.delivery.canary_init": {"canary_file": str(canary_file)}}

    rc, (result,), _stats = run_tasks(sandbox, tmp_path, [task])
    assert rc == 0, result
    assert result["changed"] is True and result["initialized_now"] is True
    created = {(o["kind"], o["name"]) for o in result["objects"] if o["action"] == "created"}
    assert {("Canary", "podinfo"), ("Deployment", "podinfo-primary"), ("Service", "podinfo"),
            ("Service", "podinfo-primary"), ("Service", "podinfo-canary"),
            ("TraefikService", "podinfo"), ("HorizontalPodAutoscaler", "podinfo-primary"),
            ("ConfigMap", "podinfo-config-primary"), ("Secret", "podinfo-token-primary")} <= created

    primary = get_json(sandbox, namespace, "deployment/podinfo-primary")
    assert primary["spec"]["selector"]["matchLabels"] == {"app": "podinfo-primary"}
    assert primary["spec"]["template"]["metadata"]["labels"]["app"] == "podinfo-primary"
    assert primary["spec"]["replicas"] == 2  # the HPA's minReplicas
    # Flagger's random flagger-id, renewed at each promotion so the primary's pods roll.
    assert UUID.match(primary["spec"]["template"]["metadata"]["annotations"]["flagger-id"])
    container = primary["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "stefanprodan/podinfo:4.0.5"
    assert container["env"][0]["valueFrom"]["configMapKeyRef"]["name"] == "podinfo-config-primary"
    assert container["envFrom"][0]["secretRef"]["name"] == "podinfo-token-primary"
    assert get_json(sandbox, namespace, "configmap/podinfo-config-primary")["data"] == {
        "color": "blue"}

    service_objects = {name: get_json(sandbox, namespace, "service/" + name)
                       for name in ("podinfo", "podinfo-primary", "podinfo-canary")}
    for service in service_objects.values():
        assert service["metadata"]["annotations"] == FLUX_DISABLED
    services = {name: obj["spec"] for name, obj in service_objects.items()}
    assert services["podinfo"]["selector"] == {"app": "podinfo-primary"}
    assert services["podinfo-primary"]["selector"] == {"app": "podinfo-primary"}
    assert services["podinfo-canary"]["selector"] == {"app": "podinfo"}
    for spec in services.values():
        assert spec["ports"][0]["port"] == 80 and spec["ports"][0]["targetPort"] == 9898
        assert spec["ports"][0]["name"] == "http"

    route = get_json(sandbox, namespace, "traefikservices.traefik.io/podinfo")
    assert route["spec"]["weighted"]["services"] == [
        {"name": "podinfo-primary", "namespace": namespace, "port": 80, "weight": 100}]
    assert route["metadata"]["annotations"] == FLUX_DISABLED
    hpa = get_json(sandbox, namespace, "hpa/podinfo-primary")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "podinfo-primary"
    assert get_json(sandbox, namespace, "deployment/podinfo")["spec"]["replicas"] == 0

    canary = get_json(sandbox, namespace, "canary/podinfo")
    assert canary["status"]["phase"] == "Initialized"
    assert canary["status"]["lastPromotedSpec"] == result["revision"]
    assert set(canary["status"]["trackedConfigs"]) == {"configmap/podinfo-config",
                                                       "secret/podinfo-token"}
    events = canary_events(sandbox, namespace)
    assert "Initialization done! podinfo.{0}".format(namespace) in events
    # Flagger's Warning while the new primary rolls out, before the initialisation is done.
    not_ready = [m for m in events
                 if m.startswith("podinfo-primary.{0} not ready: waiting for rollout to".format(namespace))]
    assert not_ready and events.index(not_ready[0]) < events.index(
        "Initialization done! podinfo.{0}".format(namespace)), events

    seen = versions_through_traefik(sandbox, namespace, n=200)
    assert seen == {"4.0.5": 200}

    rc, (again,), stats = run_tasks(sandbox, tmp_path, [task], name="again.yml")
    assert rc == 0 and again["changed"] is False and again["objects"] == []
    assert stats["changed"] == 0

    listing = sandbox.kubectl("get", "canaries", "-A").stdout
    row = [line.split() for line in listing.splitlines() if line.startswith(namespace)][0]
    assert row[1:4] == ["podinfo", "Initialized", "0"]


def test_check_mode_predicts_but_writes_nothing(sandbox, namespace, tmp_path):
    deploy_podinfo(sandbox, namespace)
    canary_file = seed_canary_file(tmp_path, namespace)
    rc, (result,), _stats = run_tasks(
        sandbox, tmp_path, [{"progressive.delivery.canary_init": {"canary_file": str(canary_file)}}],
        check=True)
    assert rc == 0 and result["changed"] is True
    assert ("Deployment", "podinfo-primary") in {(o["kind"], o["name"]) for o in result["objects"]}
    names = sandbox.kubectl("-n", namespace, "get", "deployments,services,hpa,canaries",
                            "-o", "name").stdout.split()
    assert sorted(names) == ["deployment.apps/podinfo",
                             "horizontalpodautoscaler.autoscaling/podinfo"]
    assert get_json(sandbox, namespace, "deployment/podinfo")["spec"].get("replicas", 1) >= 1
    assert sandbox.kubectl("-n", namespace, "get", "traefikservices.traefik.io", "-o",
                           "name").stdout.strip() == ""
    assert versions_through_traefik(sandbox, namespace, n=5) == {"HTTP 404": 5}


def test_invalid_canary_is_refused_naming_the_field_before_any_write(sandbox, namespace,
                                                                     tmp_path):
    deploy_podinfo(sandbox, namespace)
    canary = yaml.safe_load(seed_canary_file(tmp_path, namespace).read_text())
    canary["spec"]["analysis"]["stepWeight"] = 60
    rc, (result,), _stats = run_tasks(
        sandbox, tmp_path, [{"progressive.delivery.canary_init": {"canary": canary}}])
    assert rc != 0 and result.get("failed")
    assert "spec.analysis.maxWeight" in result["msg"] and "stepWeight" in result["msg"]
    names = sandbox.kubectl("-n", namespace, "get", "deployments,services,canaries",
                            "-o", "name").stdout.split()
    assert names == ["deployment.apps/podinfo"]


def test_missing_target_is_reported_and_nothing_is_created(sandbox, namespace, tmp_path):
    canary_file = seed_canary_file(tmp_path, namespace)
    rc, (result,), _stats = run_tasks(
        sandbox, tmp_path, [{"progressive.delivery.canary_init": {"canary_file": str(canary_file)}}])
    assert rc != 0
    assert "Deployment {0}/podinfo (spec.targetRef) not found".format(namespace) in result["msg"]
    assert sandbox.kubectl("-n", namespace, "get", "canaries,services", "-o",
                           "name").stdout.strip() == ""


def test_primary_that_never_becomes_ready_fails_within_the_deadline_and_keeps_the_target(
        sandbox, namespace, tmp_path):
    docs = example_docs(["deployment.yaml", "hpa.yaml"], namespace)
    container = docs[0]["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "SANDBOX_NEVER_READY", "value": "true"}]
    sandbox.apply(yaml.safe_dump_all(docs), namespace=namespace)
    canary = yaml.safe_load(seed_canary_file(tmp_path, namespace).read_text())
    canary["spec"]["progressDeadlineSeconds"] = 3
    rc, (result,), _stats = run_tasks(
        sandbox, tmp_path, [{"progressive.delivery.canary_init": {"canary": canary}}])
    assert rc != 0
    assert "podinfo-primary was not ready within 3s" in result["msg"]
    # The target is not scaled to zero (its HPA, which real controllers run, may have raised it).
    assert get_json(sandbox, namespace, "deployment/podinfo")["spec"]["replicas"] >= 1
    status = get_json(sandbox, namespace, "canary/podinfo").get("status") or {}
    assert status.get("phase") == "Initializing"
    # Flagger's one Event while it waits for the primary; no "Initialization done!".
    events = canary_events(sandbox, namespace)
    assert len(events) == 1, events
    assert events[0].startswith(f"podinfo-primary.{namespace} not ready: waiting for rollout to finish"), events


def test_deleting_the_canary_deletes_what_initialisation_generated(sandbox, namespace, tmp_path):
    """Every generated object, the TraefikService included, is owned by the Canary as in Flagger,
    so Kubernetes' garbage collector removes them with it; the user's Deployment stays."""
    deploy_podinfo(sandbox, namespace)
    add_config(sandbox, namespace)
    task = {"progressive.delivery.canary_init": {"canary_file": str(seed_canary_file(tmp_path, namespace))}}
    rc, (result,), _stats = run_tasks(sandbox, tmp_path, [task])
    assert rc == 0, result
    uid = get_json(sandbox, namespace, "canary", "podinfo")["metadata"]["uid"]
    generated = [("deployment", "podinfo-primary"), ("service", "podinfo"), ("service", "podinfo-primary"),
                 ("service", "podinfo-canary"), ("traefikservices.traefik.io", "podinfo"),
                 ("horizontalpodautoscaler", "podinfo-primary"), ("configmap", "podinfo-config-primary"),
                 ("secret", "podinfo-token-primary")]
    for kind, name in generated:
        owners = get_json(sandbox, namespace, kind, name)["metadata"].get("ownerReferences") or []
        assert [(o["kind"], o["name"], o["uid"], o.get("controller")) for o in owners] == \
            [("Canary", "podinfo", uid, True)], (kind, name, owners)

    sandbox.kubectl("-n", namespace, "delete", "canary", "podinfo", "--wait=true")

    def gone():
        listed = sandbox.kubectl("-n", namespace, "get", *("{0}/{1}".format(kind, name) for kind, name in generated),
                                 "--ignore-not-found", "-o", "name")
        return listed.stdout.strip() == ""
    wait_until(gone, timeout=60, what="the garbage collector to delete the Canary's objects")
    assert get_json(sandbox, namespace, "deployment", "podinfo")["metadata"]["name"] == "podinfo"
