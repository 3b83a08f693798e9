"""canary_weight refuses bad input with a message naming the problem, before writing anything."""
import pytest
import yaml

from pdtest.apps import deploy_pair
from pdtest.manifests import mirroring_traefik_service, traefik_service
from pdtest.playbooks import run_tasks

from traffic_world import assert_failed_without_changes, scratch_namespace


@pytest.fixture(scope="module")
def world(sandbox):
    namespace, delete = scratch_namespace(sandbox, "cw-bad")
    try:
        deploy_pair(sandbox, namespace, weights={"podinfo-primary": 80, "podinfo-canary": 20})
        sandbox.apply(yaml.safe_dump_all([
            mirroring_traefik_service("mirrored"),
            traefik_service("traefik.io/v1alpha1", {"other-a": 50, "other-b": 50}, name="foreign"),
        ]), namespace=namespace)
        yield namespace
    finally:
        delete()


CASES = [
    ("weight-above-100", {"weight": 101}, ["weight must be an integer between 0 and 100", "101"]),
    ("weight-negative", {"weight": -1}, ["weight must be an integer between 0 and 100", "-1"]),
    ("weight-not-a-number", {"weight": "ten"}, ["weight must be an integer", "'ten'"]),
    ("missing-traefik-service", {"name": "absent"},
     ["TraefikService {ns}/absent (traefik.io/v1alpha1) not found", "create: true"]),
    ("not-weighted", {"name": "mirrored"}, ["TraefikService {ns}/mirrored is not of kind weighted", "takeover: true"]),
    ("foreign-entries", {"name": "foreign", "primary_service": "podinfo-primary", "canary_service": "podinfo-canary"},
     ["has entries other-a=50, other-b=50, expected Services podinfo-primary and podinfo-canary"]),
    ("unknown-api-version", {"api_version": "traefik.io/v2"}, ["api_version must be one of", "traefik.io/v2"]),
    ("invalid-name", {"name": "Podinfo_X"}, ["name must be a DNS label", "'Podinfo_X'"]),
    ("same-services", {"primary_service": "podinfo", "canary_service": "podinfo"},
     ["primary_service and canary_service must differ"]),
    ("create-without-port", {"name": "absent", "create": True}, ["port is required to create TraefikService {ns}/absent"]),
    ("invalid-port", {"port": "http port"}, ["port must be a port number (1-65535) or a port name", "'http port'"]),
]


@pytest.mark.parametrize("args, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_write(sandbox, world, tmp_path, args, expected):
    task_args = {"name": "podinfo", "namespace": world, "weight": 50}
    task_args.update(args)

    def run():
        rc, results, _stats = run_tasks(sandbox, tmp_path, [{"progressive.delivery.canary_weight": task_args}])
        return rc, results

    assert_failed_without_changes(sandbox, world, run, [e.format(ns=world) for e in expected])
