"""Deriving the primary from the canary: config references, labels, rollout progress."""
from ansible_collections.progressive.delivery.plugins.module_utils.targets.base import (
    primary_pod_template,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.config_tracking import (
    config_copy,
    config_references,
    configs_checksum as config_checksum,
    rewrite_config_references,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.deployment import (
    DeploymentTarget,
    rollout_progress,
)

POD_SPEC = {
    "initContainers": [{"name": "init", "envFrom": [{"secretRef": {"name": "init-secret"}}]}],
    "containers": [{
        "name": "app",
        "env": [
            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "a"}}},
            {"name": "B", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "b"}}},
            {"name": "C", "value": "plain"},
            {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        "envFrom": [{"configMapRef": {"name": "extra", "optional": True}}],
    }],
    "volumes": [
        {"name": "cfg", "configMap": {"name": "settings"}},
        {"name": "tls", "secret": {"secretName": "tls"}},
        {"name": "all", "projected": {"sources": [{"configMap": {"name": "proj-cm"}}, {"secret": {"name": "proj-s"}},
                                                  {"serviceAccountToken": {"path": "t"}}]}},
        {"name": "tmp", "emptyDir": {}},
    ],
}


def test_finds_every_kind_of_config_reference_with_optionality():
    assert config_references(POD_SPEC) == {
        ("Secret", "init-secret"): False, ("ConfigMap", "settings"): False, ("Secret", "creds"): False,
        ("ConfigMap", "extra"): True, ("Secret", "tls"): False, ("ConfigMap", "proj-cm"): False,
        ("Secret", "proj-s"): False}


def test_rewrites_only_tracked_references_to_primary_copies():
    tracked = {("ConfigMap", "settings"), ("Secret", "creds"), ("Secret", "tls"), ("ConfigMap", "proj-cm"),
               ("Secret", "proj-s"), ("Secret", "init-secret")}
    spec = rewrite_config_references(POD_SPEC, tracked)
    env = spec["containers"][0]["env"]
    assert env[0]["valueFrom"]["configMapKeyRef"]["name"] == "settings-primary"
    assert env[1]["valueFrom"]["secretKeyRef"]["name"] == "creds-primary"
    assert env[3]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert spec["containers"][0]["envFrom"][0]["configMapRef"]["name"] == "extra"  # optional and absent
    assert spec["initContainers"][0]["envFrom"][0]["secretRef"]["name"] == "init-secret-primary"
    assert spec["volumes"][0]["configMap"]["name"] == "settings-primary"
    assert spec["volumes"][1]["secret"]["secretName"] == "tls-primary"
    sources = spec["volumes"][2]["projected"]["sources"]
    assert sources[0]["configMap"]["name"] == "proj-cm-primary" and sources[1]["secret"]["name"] == "proj-s-primary"
    assert POD_SPEC["volumes"][0]["configMap"]["name"] == "settings"  # the canary's spec is untouched


def test_primary_template_keeps_the_primary_selector_labels():
    canary_template = {"metadata": {"labels": {"app": "podinfo", "team": "web"}, "annotations": {"a": "1"}},
                       "spec": {"containers": [{"name": "app", "image": "podinfo:2"}]}}
    template = primary_pod_template(canary_template, {"app": "podinfo-primary"}, set())
    assert template["metadata"]["labels"] == {"app": "podinfo-primary", "team": "web"}
    assert template["metadata"]["annotations"] == {"a": "1"}
    assert template["spec"]["containers"][0]["image"] == "podinfo:2"
    assert canary_template["metadata"]["labels"]["app"] == "podinfo"


def test_config_copy_takes_the_data_and_the_primary_name():
    secret = {"metadata": {"name": "creds", "namespace": "test", "resourceVersion": "7", "uid": "u"},
              "type": "Opaque", "data": {"b": "eA=="}}
    copy = config_copy(secret, "Secret")
    assert copy["metadata"] == {"name": "creds-primary", "namespace": "test", "labels": {}}
    assert copy["kind"] == "Secret" and copy["type"] == "Opaque" and copy["data"] == {"b": "eA=="}


def _deployment(generation=2, observed=2, replicas=2, updated=2, total=2, available=2):
    return {"metadata": {"name": "podinfo-primary", "generation": generation}, "spec": {"replicas": replicas},
            "status": {"observedGeneration": observed, "updatedReplicas": updated, "replicas": total,
                       "availableReplicas": available}}


def test_rollout_is_done_when_all_replicas_are_updated_and_available():
    assert rollout_progress(_deployment()) == (True, "podinfo-primary rolled out: 2 of 2 updated replicas are available")


def test_rollout_waits_for_the_controller_to_observe_the_new_spec():
    done, message = rollout_progress(_deployment(generation=3, observed=2))
    assert not done and "has not been observed" in message


def test_rollout_waits_for_updated_replicas():
    done, message = rollout_progress(_deployment(updated=1, available=1, total=3))
    assert not done and message.endswith("1 of 2 updated replicas are available")


def test_rollout_waits_for_old_replicas_to_go():
    done, message = rollout_progress(_deployment(total=3))
    assert not done and "1 old replicas are pending termination" in message


def test_rollout_waits_for_availability():
    done, message = rollout_progress(_deployment(available=1))
    assert not done and "1 of 2 updated replicas are available" in message


def test_config_checksum_changes_with_content_and_marks_the_primary_template():
    settings = {("ConfigMap", "settings"): {"data": {"a": "1"}}}
    changed = {("ConfigMap", "settings"): {"data": {"a": "2"}}}
    assert config_checksum(settings) == config_checksum({("ConfigMap", "settings"): {"data": {"a": "1"}}})
    assert config_checksum(settings) != config_checksum(changed)
    template = primary_pod_template({"metadata": {}, "spec": {}}, {"app": "p"}, set(), config_checksum(changed))
    assert template["metadata"]["annotations"] == {"progressive.delivery/config-checksum": config_checksum(changed)}


# --- what the primary takes from the canary at promotion (Flagger's Promote) -----------------

def promotion_pair():
    canary = {
        "metadata": {"name": "web", "labels": {"name": "web", "team": "a", "helm.sh/chart": "web-1",
                                               "kustomize.toolkit.fluxcd.io/name": "apps"},
                     "annotations": {"team/owner": "a", "example.org/other": "x"}},
        "spec": {"replicas": 3, "minReadySeconds": 7, "strategy": {"type": "Recreate"},
                 "selector": {"matchLabels": {"name": "web"}},
                 "template": {"metadata": {"labels": {"name": "web"}},
                              "spec": {"containers": [{"name": "app", "image": "web:2"}]}}},
    }
    primary = {
        "metadata": {"name": "web-primary", "labels": {"name": "web-primary", "stale": "yes"},
                     "annotations": {"deployment.kubernetes.io/revision": "4", "stale": "yes"}},
        "spec": {"replicas": 1, "minReadySeconds": 1, "selector": {"matchLabels": {"name": "web-primary"}},
                 "template": {"metadata": {"labels": {"name": "web-primary"}},
                              "spec": {"containers": [{"name": "app", "image": "web:1"}]}}},
    }
    return canary, primary


def test_promotion_copies_spec_fields_and_metadata_by_prefix():
    canary, primary = promotion_pair()
    target = DeploymentTarget(None, "ns", "web", include_label_prefix=["team"], autoscaled=False)

    promoted = target.promoted_primary(primary, canary, set())

    assert promoted["metadata"]["labels"] == {"name": "web-primary", "team": "a"}
    # team/owner matches the prefix; the controller's own revision annotation stays.
    assert promoted["metadata"]["annotations"] == {"team/owner": "a", "deployment.kubernetes.io/revision": "4"}
    assert promoted["spec"]["minReadySeconds"] == 7 and promoted["spec"]["strategy"] == {"type": "Recreate"}
    assert promoted["spec"]["replicas"] == 3
    assert promoted["spec"]["template"]["spec"]["containers"][0]["image"] == "web:2"
    assert promoted["spec"]["selector"] == {"matchLabels": {"name": "web-primary"}}
    # Promoting again changes nothing.
    assert target.promoted_primary(promoted, canary, set()) == promoted


def test_promotion_leaves_the_replicas_to_the_autoscaler_or_when_unknown():
    canary, primary = promotion_pair()
    for autoscaled in (True, None):
        target = DeploymentTarget(None, "ns", "web", autoscaled=autoscaled)
        assert target.promoted_primary(primary, canary, set())["spec"]["replicas"] == 1


def test_by_default_no_target_label_but_the_selector_reaches_the_primary():
    canary, primary = promotion_pair()
    promoted = DeploymentTarget(None, "ns", "web").promoted_primary(primary, canary, set())
    assert promoted["metadata"]["labels"] == {"name": "web-primary"}
    assert promoted["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "4"}


def test_scheduling_selectors_of_the_target_are_pointed_at_the_primary():
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {
        "topologySpreadConstraints": [{"labelSelector": {"matchLabels": {"app": "web", "tier": "web"}}}],
        "affinity": {"podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["db", "web"]}]}}],
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 1, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "other"}}}}]}}}}

    spec = primary_pod_template(template, {"app": "web-primary"}, set(), target_name="web",
                                selector_labels=("app",))["spec"]

    # Only selector-label keys whose value is the target's name change (tier is not a selector label).
    assert spec["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"] == {"app": "web-primary", "tier": "web"}
    anti = spec["affinity"]["podAntiAffinity"]
    assert anti["requiredDuringSchedulingIgnoredDuringExecution"][0]["labelSelector"]["matchExpressions"][0][
        "values"] == ["db", "web-primary"]
    assert anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]["labelSelector"] == {
        "matchLabels": {"app": "other"}}
    assert template["spec"]["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"]["app"] == "web"
