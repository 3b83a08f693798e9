"""What the primary Deployment takes from its target, as Flagger does: the selector label chosen
from a configurable list, labels by include-label prefix, Flux's keys never, scheduling selectors
pointed at the primary, and at promotion the spec fields and metadata as well as the pod template."""
import json

import yaml

from pdtest.apps import install_crds, set_image
from pdtest.load import Load, versions_through_traefik
from pdtest.manifests import fast_canary, podinfo_docs, write_canary
from pdtest.playbooks import run_playbook
from pdtest.sandbox import get_json

FLUX = "kustomize.toolkit.fluxcd.io/name"


def keyed_on_component(namespace):
    """podinfo selected by ``component: podinfo`` only (no label of Flagger's default list), with
    labels and annotations of several owners and scheduling rules that select its own pods."""
    docs = podinfo_docs(namespace)
    target = docs[0]
    target["metadata"]["labels"] = {"component": "podinfo", "team": "web",
                                    "helm.sh/chart": "podinfo-6.0.0", FLUX: "apps"}
    target["metadata"]["annotations"] = {"example.com/owner": "web", FLUX: "apps"}
    target["spec"]["selector"] = {"matchLabels": {"component": "podinfo"}}
    pod = target["spec"]["template"]
    pod["metadata"]["labels"] = {"component": "podinfo", FLUX: "apps"}
    own_pods = {"matchLabels": {"component": "podinfo"}}
    pod["spec"]["topologySpreadConstraints"] = [{
        "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": own_pods}]
    pod["spec"]["affinity"] = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
        "weight": 100, "podAffinityTerm": {
            "topologyKey": "kubernetes.io/hostname",
            "labelSelector": {"matchExpressions": [
                {"key": "component", "operator": "In", "values": ["podinfo"]}]}}}]}}
    return docs


def test_the_primary_takes_what_flagger_copies_at_creation_and_at_promotion(sandbox, namespace, tmp_path):
    install_crds(sandbox)
    sandbox.apply(yaml.safe_dump_all(keyed_on_component(namespace)), namespace=namespace)
    sandbox.kubectl("-n", namespace, "rollout", "status", "deployment/podinfo", "--timeout=90s", timeout=100)
    canary_file = write_canary(tmp_path, fast_canary(namespace, max_weight=20, step_weight=10))

    # With Flagger's default selector labels the target cannot be keyed: refused, nothing created.
    refused = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})

    assert refused.returncode != 0
    assert "spec.selector.matchLabels must contain one of app, name, app.kubernetes.io/name" in refused.stdout, \
        refused.stdout[-3000:]
    assert sandbox.kubectl("-n", namespace, "get", "deployment", "podinfo-primary", check=False).returncode != 0

    options = {"canary_file": str(canary_file), "canary_selector_labels": ["app", "component"],
               "canary_include_label_prefix": ["team", "example.com/"]}
    first = run_playbook(sandbox, extra_vars=options)

    assert first.returncode == 0, first.stdout[-4000:]
    primary = get_json(sandbox, namespace, "deployment", "podinfo-primary")
    assert primary["metadata"]["labels"] == {"component": "podinfo-primary", "team": "web"}
    assert primary["metadata"]["annotations"]["example.com/owner"] == "web"
    assert FLUX not in primary["metadata"]["annotations"]
    assert primary["spec"]["selector"] == {"matchLabels": {"component": "podinfo-primary"}}
    pod = primary["spec"]["template"]
    assert pod["metadata"]["labels"] == {"component": "podinfo-primary"}
    assert pod["spec"]["topologySpreadConstraints"][0]["labelSelector"] == {
        "matchLabels": {"component": "podinfo-primary"}}
    term = pod["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["podAffinityTerm"]["labelSelector"]["matchExpressions"][0]["values"] == ["podinfo-primary"]
    assert get_json(sandbox, namespace, "service", "podinfo")["spec"]["selector"] == {"component": "podinfo-primary"}
    assert get_json(sandbox, namespace, "service", "podinfo-canary")["spec"]["selector"] == {"component": "podinfo"}
    assert versions_through_traefik(sandbox, namespace, 100) == {"4.0.5": 100}

    # A new revision whose Deployment also changed its labels, annotations and rollout settings.
    sandbox.kubectl("-n", namespace, "label", "deployment", "podinfo", "--overwrite", "team=payments")
    sandbox.kubectl("-n", namespace, "annotate", "deployment", "podinfo", "--overwrite",
                    "example.com/owner=payments", "other.example.org/note=not-copied")
    sandbox.kubectl("-n", namespace, "patch", "deployment", "podinfo", "--type", "merge",
                    "-p", json.dumps({"spec": {"minReadySeconds": 2}}))
    set_image(sandbox, namespace, "4.0.6")
    load = Load(sandbox, namespace, rps=30)
    try:
        release = run_playbook(sandbox, extra_vars=options)
    finally:
        load.stop()

    assert release.returncode == 0, release.stdout[-4000:]
    assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["phase"] == "Succeeded"
    primary = get_json(sandbox, namespace, "deployment", "podinfo-primary")
    assert primary["metadata"]["labels"] == {"component": "podinfo-primary", "team": "payments"}
    annotations = primary["metadata"]["annotations"]
    assert annotations["example.com/owner"] == "payments"
    assert "other.example.org/note" not in annotations and FLUX not in annotations
    assert primary["spec"]["minReadySeconds"] == 2
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "stefanprodan/podinfo:4.0.6"
    assert versions_through_traefik(sandbox, namespace, 100) == {"4.0.6": 100}
