"""canary_promote end to end: template and config copied, primary rolled out, traffic moved."""
import base64
import json

from pdtest.apps import deploy_pair
from pdtest.load import versions_through_traefik
from pdtest.manifests import host_for
from pdtest.playbooks import run_tasks

from traffic_world import get, resource_versions, weights_of

from kubesandbox.fixtures import http

CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "podinfo-config"},
          "data": {"greeting": "hello from the canary's config"}}
TOKEN = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "podinfo-token"},
         "data": {"token": base64.b64encode(b"canary-token-value").decode()}}
CANARY_POD_SPEC = {
    "volumes": [{"name": "token", "secret": {"secretName": "podinfo-token"}}],
}
CONFIG_ENV = [
    {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "podinfo-config", "key": "greeting"}}},
]


def with_config_env(sandbox, namespace):
    """Give the canary's container an env var read from the ConfigMap."""
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "podinfod", "env": CONFIG_ENV}]}}}}
    sandbox.kubectl("-n", namespace, "patch", "deployment", "podinfo", "--type", "strategic", "-p", json.dumps(patch))
    sandbox.wait_for_rollout(namespace, "podinfo")


def promote_task(namespace, **extra):
    args = {"name": "podinfo", "namespace": namespace, "timeout": 60}
    args.update(extra)
    return {"name": "promote", "progressive.delivery.canary_promote": args, "register": "result"}


def test_promotion_moves_image_config_and_all_traffic_to_primary(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace, primary_version="1.0.0", canary_version="2.0.0",
                weights={"podinfo-primary": 50, "podinfo-canary": 50}, extra_docs=[CONFIG, TOKEN],
                canary_pod_spec=CANARY_POD_SPEC)
    with_config_env(sandbox, namespace)
    primary_selector = get(sandbox, namespace, "deployment", "podinfo-primary")["spec"]["selector"]

    rc, results, _stats = run_tasks(sandbox, tmp_path, [promote_task(namespace)])

    assert rc == 0, [r.get("msg") for r in results]
    result = results[0]
    assert result["changed"] is True
    assert result["primary"]["images"] == {"podinfod": "stefanprodan/podinfo:2.0.0"}
    assert result["configs"] == ["ConfigMap/podinfo-config-primary", "Secret/podinfo-token-primary"]
    assert result["weights"] == {"primary": 100, "canary": 0}
    assert result["previous_weights"] == {"primary": 50, "canary": 50}
    assert {"primary_update", "primary_rollout", "routing", "canary_scale_down", "total"} <= set(result["timings"])
    assert "Routing all traffic to primary" in result["actions"]

    primary = get(sandbox, namespace, "deployment", "podinfo-primary")
    assert primary["spec"]["selector"] == primary_selector
    assert primary["spec"]["template"]["metadata"]["labels"]["app"] == "podinfo-primary"
    pod_spec = primary["spec"]["template"]["spec"]
    assert pod_spec["containers"][0]["image"] == "stefanprodan/podinfo:2.0.0"
    assert pod_spec["containers"][0]["env"][0]["valueFrom"]["configMapKeyRef"]["name"] == "podinfo-config-primary"
    assert pod_spec["volumes"][0]["secret"]["secretName"] == "podinfo-token-primary"
    assert get(sandbox, namespace, "configmap", "podinfo-config-primary")["data"] == CONFIG["data"]
    assert get(sandbox, namespace, "secret", "podinfo-token-primary")["data"] == get(
        sandbox, namespace, "secret", "podinfo-token")["data"]
    assert get(sandbox, namespace, "deployment", "podinfo")["spec"]["replicas"] == 0
    assert weights_of(get(sandbox, namespace, "traefikservices.traefik.io", "podinfo")) == {"podinfo-primary": 100}

    sandbox.wait_for_weights(namespace, "podinfo", {"podinfo-primary": 100})
    assert versions_through_traefik(sandbox, namespace, 500) == {"2.0.0": 500}
    status, body = http("GET", sandbox.traefik_url + "/env", headers={"Host": host_for(namespace)})
    assert status == 200 and "GREETING=hello from the canary's config" in json.loads(body)

    rc, again, _stats = run_tasks(sandbox, tmp_path, [promote_task(namespace)])
    assert rc == 0 and again[0]["changed"] is False, again[0].get("msg")

    # A change of configuration alone is promoted too, and reaches the primary's pods.
    sandbox.kubectl("-n", namespace, "patch", "configmap", "podinfo-config", "--type", "merge",
                    "-p", json.dumps({"data": {"greeting": "second greeting"}}))
    rc, config_only, _stats = run_tasks(sandbox, tmp_path, [promote_task(namespace)])
    assert rc == 0 and config_only[0]["changed"] is True, config_only[0].get("msg")
    assert get(sandbox, namespace, "configmap", "podinfo-config-primary")["data"] == {"greeting": "second greeting"}
    status, body = http("GET", sandbox.traefik_url + "/env", headers={"Host": host_for(namespace)})
    assert status == 200 and "GREETING=second greeting" in json.loads(body)


def test_check_mode_shows_the_template_change_and_changes_nothing(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace, primary_version="1.0.0", canary_version="2.0.0",
                weights={"podinfo-primary": 80, "podinfo-canary": 20})
    before = resource_versions(sandbox, namespace)
    task = promote_task(namespace)
    task["diff"] = True

    rc, results, _stats = run_tasks(sandbox, tmp_path, [task], check=True)

    assert rc == 0, [r.get("msg") for r in results]
    result = results[0]
    assert result["changed"] is True and result["actions"] == []
    diff = result["diff"]
    assert diff["before"]["primary_template"]["spec"]["containers"][0]["image"] == "stefanprodan/podinfo:1.0.0"
    assert diff["after"]["primary_template"]["spec"]["containers"][0]["image"] == "stefanprodan/podinfo:2.0.0"
    assert diff["before"]["weights"] == {"primary": 80, "canary": 20}
    assert diff["after"]["canary_replicas"] == 0
    assert resource_versions(sandbox, namespace) == before


def test_primary_that_never_gets_ready_fails_the_task_and_leaves_routing_alone(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace, canary_env={"SANDBOX_NEVER_READY": "true"}, canary_replicas=0,
                weights={"podinfo-primary": 90, "podinfo-canary": 10})

    rc, results, _stats = run_tasks(sandbox, tmp_path, [promote_task(namespace, timeout=4)])

    assert rc != 0
    msg = results[0]["msg"]
    assert "podinfo-primary did not finish its rollout within 4s" in msg, msg
    assert "routing was left unchanged" in msg
    assert weights_of(get(sandbox, namespace, "traefikservices.traefik.io", "podinfo")) == {
        "podinfo-primary": 90, "podinfo-canary": 10}
