"""kubectl's generator commands send protobuf; the emulator must read what they send."""
from __future__ import annotations

import json

from _api_harness import api_server  # noqa: F401  (pytest fixture)


def _get(api, *args):
    return json.loads(api.kubectl("get", "-o", "json", *args).stdout)


def test_kubectl_create_generators(api_server):
    api = api_server
    api.kubectl("create", "namespace", "demo")
    api.kubectl("-n", "demo", "create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=two")
    api.kubectl("-n", "demo", "create", "secret", "generic", "tok", "--from-literal=token=s3cret")
    api.kubectl("-n", "demo", "create", "serviceaccount", "robot")
    api.kubectl("-n", "demo", "create", "deployment", "web", "--image=stefanprodan/podinfo:6.0.0", "--port=9898",
                "--replicas=0")
    api.kubectl("-n", "demo", "create", "service", "clusterip", "web", "--tcp=80:9898")

    assert _get(api, "namespace", "demo")["status"]["phase"] == "Active"
    assert _get(api, "-n", "demo", "configmap", "cfg")["data"] == {"a": "1", "b": "two"}
    secret = _get(api, "-n", "demo", "secret", "tok")
    assert secret["data"] == {"token": "czNjcmV0"} and secret["type"] == "Opaque"
    assert _get(api, "-n", "demo", "serviceaccount", "robot")["metadata"]["name"] == "robot"
    dep = _get(api, "-n", "demo", "deployment", "web")
    assert dep["spec"]["replicas"] == 0
    assert dep["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    [container] = dep["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "stefanprodan/podinfo:6.0.0"
    assert container["ports"][0]["containerPort"] == 9898
    svc = _get(api, "-n", "demo", "service", "web")
    assert svc["spec"]["ports"][0]["port"] == 80 and svc["spec"]["ports"][0]["targetPort"] == 9898
    assert svc["spec"]["selector"] == {"app": "web"}
