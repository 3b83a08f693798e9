"""spec.service.portDiscovery, headless and trafficDistribution on the sandbox: the Services
canary_init generates carry them as Flagger's Kubernetes router makes them, the real API server
takes them, and Traefik routes through the headless Services."""
import json

import yaml

from pdtest.apps import deploy_podinfo
from pdtest.load import versions_through_traefik
from pdtest.manifests import fast_canary
from pdtest.playbooks import run_tasks
from pdtest.sandbox import get_json

SERVICES = ("podinfo", "podinfo-primary", "podinfo-canary")


def test_discovered_ports_headless_services_and_traffic_distribution(sandbox, namespace, tmp_path):
    deploy_podinfo(sandbox, namespace)
    # A second, named container port and an unnamed one, which portDiscovery adds to the Services.
    patch = {"spec": {"template": {"spec": {"containers": [{
        "name": "podinfod",
        "ports": [{"name": "http", "containerPort": 9898, "protocol": "TCP"},
                  {"name": "http-metrics", "containerPort": 9797, "protocol": "TCP"},
                  {"containerPort": 9999, "protocol": "TCP"}]}]}}}}
    sandbox.kubectl("-n", namespace, "patch", "deployment/podinfo", "--type=strategic", "-p", json.dumps(patch))
    sandbox.kubectl("-n", namespace, "rollout", "status", "deployment/podinfo", "--timeout=60s")
    canary = fast_canary(namespace)
    canary["spec"]["service"].update(portDiscovery=True, headless=True, trafficDistribution="PreferClose")
    task = {"progressive.delivery.canary_init": {"canary": canary}}

    rc, (result,), _stats = run_tasks(sandbox, tmp_path, [task])
    assert rc == 0, result
    assert not [w for w in result.get("warnings") or [] if "spec.service" in w], result.get("warnings")
    for name in SERVICES:
        spec = get_json(sandbox, namespace, "service/" + name)["spec"]
        assert spec["clusterIP"] == "None", (name, spec)
        assert spec["trafficDistribution"] == "PreferClose", (name, spec)
        assert sorted((p["name"], p["port"], p["targetPort"]) for p in spec["ports"]) == [
            ("http", 80, 9898), ("http-metrics", 9797, 9797), ("tcp-podinfod-2", 9999, 9999)], (name, spec)

    # Traefik routes to the primary's pods through the headless Services.
    assert versions_through_traefik(sandbox, namespace, n=50) == {"4.0.5": 50}

    # A second run finds nothing drifted, whatever order the API server keeps the ports in.
    rc, (again,), _stats = run_tasks(sandbox, tmp_path, [task], name="again.yml")
    assert rc == 0 and again["changed"] is False, again

    # A container port the target gains later reaches the Services on the next run.
    patch["spec"]["template"]["spec"]["containers"][0]["ports"].append(
        {"name": "grpc", "containerPort": 9090, "protocol": "TCP"})
    sandbox.kubectl("-n", namespace, "patch", "deployment/podinfo", "--type=strategic", "-p", json.dumps(patch))
    rc, (third,), _stats = run_tasks(sandbox, tmp_path, [task], name="third.yml")
    assert rc == 0, third
    for name in SERVICES:
        ports = get_json(sandbox, namespace, "service/" + name)["spec"]["ports"]
        assert ("grpc", 9090) in [(p["name"], p["port"]) for p in ports], (name, ports)


def test_a_bad_traffic_distribution_is_refused_before_anything_is_written(sandbox, namespace, tmp_path):
    deploy_podinfo(sandbox, namespace)
    canary = fast_canary(namespace)
    canary["spec"]["service"]["trafficDistribution"] = "Nearest"
    rc, (result,), _stats = run_tasks(sandbox, tmp_path, [{"progressive.delivery.canary_init": {"canary": canary}}])
    assert rc != 0 and "spec.service.trafficDistribution" in result["msg"], result
    assert "PreferClose" in result["msg"]
    names = sandbox.kubectl("-n", namespace, "get", "deployments,services,canaries", "-o", "name").stdout.split()
    assert sorted(names) == ["deployment.apps/podinfo"], yaml.safe_dump(names)
