"""A primary/canary pair of the sample app behind Traefik, as Flagger's initialisation leaves it,
built directly with kubectl so the module tests do not depend on the initialisation code."""
import json

import yaml

HOST_SUFFIX = "app.example.com"


def host_for(namespace):
    return "{0}.{1}".format(namespace, HOST_SUFFIX)


def _deployment(name, app_label, version, replicas, env=None, pod_spec_extra=None):
    container = {
        "name": "podinfod",
        "image": "stefanprodan/podinfo:{0}".format(version),
        "ports": [{"name": "http", "containerPort": 9898, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 9898}, "periodSeconds": 1},
    }
    if env:
        container["env"] = [{"name": k, "value": str(v)} for k, v in env.items()]
    spec = {"containers": [container]}
    spec.update(pod_spec_extra or {})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": app_label}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app_label}},
            "template": {"metadata": {"labels": {"app": app_label}}, "spec": spec},
        },
    }


def _service(name, app_label):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "selector": {"app": app_label},
            "ports": [{"name": "http", "port": 80, "targetPort": 9898, "protocol": "TCP"}],
        },
    }


def traefik_service(api_version, weights, name="podinfo"):
    """A weighted TraefikService; ``weights`` maps Service name to weight."""
    return {
        "apiVersion": api_version,
        "kind": "TraefikService",
        "metadata": {"name": name},
        "spec": {"weighted": {"services": [
            {"name": svc, "port": 80, "weight": w} for svc, w in weights.items()]}},
    }


def ingress_route(namespace, api_version="traefik.io/v1alpha1", target="podinfo"):
    return {
        "apiVersion": api_version,
        "kind": "IngressRoute",
        "metadata": {"name": "podinfo"},
        "spec": {
            "entryPoints": ["web"],
            "routes": [{
                "match": "Host(`{0}`)".format(host_for(namespace)),
                "kind": "Rule",
                "services": [{"name": target, "kind": "TraefikService", "port": 80}],
            }],
        },
    }


def deploy_pair(sandbox, namespace, primary_version="1.0.0", canary_version="2.0.0",
                canary_env=None, canary_replicas=1, primary_replicas=1, canary_pod_spec=None,
                with_traefik_service=True, traefik_api_version="traefik.io/v1alpha1",
                weights=None, extra_docs=()):
    """Deployments podinfo (the canary/target) and podinfo-primary, their Services, an
    IngressRoute for ``<namespace>.app.example.com`` and (optionally) the TraefikService."""
    docs = list(extra_docs) + [
        _deployment("podinfo-primary", "podinfo-primary", primary_version, primary_replicas),
        _deployment("podinfo", "podinfo", canary_version, canary_replicas, env=canary_env,
                    pod_spec_extra=canary_pod_spec),
        _service("podinfo", "podinfo-primary"),
        _service("podinfo-primary", "podinfo-primary"),
        _service("podinfo-canary", "podinfo"),
        ingress_route(namespace),
    ]
    if with_traefik_service:
        docs.append(traefik_service(traefik_api_version, weights or {"podinfo-primary": 100}))
    sandbox.apply(yaml.safe_dump_all(docs), namespace=namespace)
    for name in ("podinfo-primary", "podinfo"):
        if (name == "podinfo" and canary_replicas) or (name != "podinfo" and primary_replicas):
            sandbox.wait_for_rollout(namespace, name)
    if with_traefik_service and traefik_api_version == "traefik.io/v1alpha1":
        # Tests start measuring only once Traefik serves the route.
        sandbox.wait_for_weights(namespace, "podinfo", weights or {"podinfo-primary": 100})


def get(sandbox, namespace, kind, name):
    done = sandbox.kubectl("-n", namespace, "get", kind, name, "-o", "json", check=False)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout)


def resource_versions(sandbox, namespace):
    """{kind/name: resourceVersion} of everything the module tests touch in the namespace."""
    kinds = "deployments.apps,services,configmaps,secrets,traefikservices.traefik.io"
    out = json.loads(sandbox.kubectl("-n", namespace, "get", kinds, "-o", "json").stdout)
    versions = {}
    for item in out["items"]:
        key = "{0}/{1}".format(item["kind"], item["metadata"]["name"])
        versions[key] = item["metadata"]["resourceVersion"]
    legacy = sandbox.kubectl("-n", namespace, "get", "traefikservices.traefik.containo.us", "-o", "json",
                             check=False)
    if legacy.returncode == 0:
        for item in json.loads(legacy.stdout)["items"]:
            versions["v2-TraefikService/" + item["metadata"]["name"]] = item["metadata"]["resourceVersion"]
    return versions


def weights_of(obj):
    """{service: weight} of a TraefikService object."""
    return {s["name"]: s.get("weight") for s in obj["spec"]["weighted"]["services"]}


def scratch_namespace(sandbox, prefix):
    """Create a namespace for a group of tests; returns a function that deletes it."""
    import uuid

    name = "{0}-{1}".format(prefix, uuid.uuid4().hex[:6])
    sandbox.kubectl("create", "namespace", name)
    return name, lambda: sandbox.kubectl("delete", "namespace", name, "--wait=false", check=False)


def mirroring_traefik_service(name, api_version="traefik.io/v1alpha1"):
    return {
        "apiVersion": api_version,
        "kind": "TraefikService",
        "metadata": {"name": name},
        "spec": {"mirroring": {"name": "podinfo-primary", "port": 80,
                               "mirrors": [{"name": "podinfo-canary", "port": 80, "percent": 10}]}},
    }


def assert_failed_without_changes(sandbox, namespace, run, expected):
    """Run the module (``run()`` returns ansible's results), assert the task failed with a message
    containing every ``expected`` fragment, and that no object in the namespace was written."""
    before = resource_versions(sandbox, namespace)
    rc, results = run()
    result = results[0]
    assert rc != 0 and result.get("failed"), result
    for fragment in expected:
        assert fragment in result["msg"], (fragment, result["msg"])
    assert resource_versions(sandbox, namespace) == before
    return result
