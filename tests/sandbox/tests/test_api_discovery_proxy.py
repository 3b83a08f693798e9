"""Discovery documents, the OpenAPI stub, and the services/proxy subresource."""
from __future__ import annotations

import http.server
import json
import threading

import pytest

from _api_harness import api_server, rest  # noqa: F401  (api_server is a pytest fixture)


def test_discovery_lists_groups_resources_and_subresources(api_server):
    url = api_server.url
    assert rest.get(f"{url}/api").json()["versions"] == ["v1"]
    groups = {g["name"]: g for g in rest.get(f"{url}/apis").json()["groups"]}
    assert {"apps", "autoscaling", "discovery.k8s.io", "coordination.k8s.io",
            "apiextensions.k8s.io"} <= set(groups)
    apps = {r["name"]: r for r in rest.get(f"{url}/apis/apps/v1").json()["resources"]}
    assert apps["deployments"]["kind"] == "Deployment" and apps["deployments"]["shortNames"] == ["deploy"]
    assert "watch" in apps["deployments"]["verbs"]
    assert apps["deployments/scale"]["kind"] == "Scale" and apps["deployments/scale"]["group"] == "autoscaling"
    core = {r["name"]: r for r in rest.get(f"{url}/api/v1").json()["resources"]}
    assert core["nodes"]["namespaced"] is False and core["pods"]["namespaced"] is True
    assert rest.get(f"{url}/version").json()["major"] == "1"
    for probe in ("/healthz", "/readyz", "/livez"):
        assert rest.get(url + probe).text == "ok"


def test_openapi_v3_declares_field_validation_for_patch(api_server):
    root = rest.get(f"{api_server.url}/openapi/v3").json()
    ref = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
    doc = rest.get(api_server.url + ref).json()
    patches = [p["patch"] for p in doc["paths"].values() if "patch" in p]
    deployment = next(op for op in patches if op["x-kubernetes-group-version-kind"]["kind"] == "Deployment")
    assert any(p["name"] == "fieldValidation" and p["in"] == "query" for p in deployment["parameters"])
    assert rest.get(f"{api_server.url}/openapi/v2").status_code == 404


def test_custom_group_appears_in_discovery_after_crd(api_server):
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "traefikservices.traefik.io"},
           "spec": {"group": "traefik.io", "scope": "Namespaced",
                    "names": {"kind": "TraefikService", "plural": "traefikservices", "singular": "traefikservice",
                              "categories": ["traefik"]},
                    "versions": [{"name": "v1alpha1", "served": True, "storage": True}]}}
    rest.post(f"{api_server.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)
    group = rest.get(f"{api_server.url}/apis/traefik.io").json()
    assert group["preferredVersion"]["version"] == "v1alpha1"
    [res] = rest.get(f"{api_server.url}/apis/traefik.io/v1alpha1").json()["resources"]
    assert res["name"] == "traefikservices" and res["categories"] == ["traefik"]
    listing = rest.get(f"{api_server.url}/apis/traefik.io/v1alpha1/traefikservices").json()
    assert listing["kind"] == "TraefikServiceList" and listing["items"] == []


class _Echo(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.dumps({"method": self.command, "path": self.path,
                           "body": self.rfile.read(length).decode(),
                           "auth": self.headers.get("Authorization")}).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def echo_backend():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_service_proxy_forwards_requests(api_server, echo_backend):
    api_server.call(api_server.store.create, ("", "v1", "services"),
                    {"metadata": {"name": "hooks", "namespace": "default"}, "spec": {"ports": [{"port": 80}]}})
    api_server.proxy_targets[("default", "hooks")] = echo_backend
    resp = rest.post(f"{api_server.url}/api/v1/namespaces/default/services/hooks:80/proxy/gate/check?x=1",
                     data='{"name":"podinfo"}', headers={"Authorization": "Bearer secret"})
    assert resp.status_code == 202
    echoed = resp.json()
    assert echoed == {"method": "POST", "path": "/gate/check?x=1", "body": '{"name":"podinfo"}', "auth": None}


def test_service_proxy_without_endpoints_is_503_and_unknown_service_404(api_server):
    api_server.call(api_server.store.create, ("", "v1", "services"),
                    {"metadata": {"name": "idle", "namespace": "default"}, "spec": {"ports": [{"port": 80}]}})
    resp = rest.get(f"{api_server.url}/api/v1/namespaces/default/services/idle/proxy/")
    assert resp.status_code == 503 and resp.json()["reason"] == "ServiceUnavailable"
    assert rest.get(f"{api_server.url}/api/v1/namespaces/default/services/ghost/proxy/").status_code == 404
