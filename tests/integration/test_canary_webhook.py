"""canary_webhook on the sandbox: the article's webhooks reach Flagger's loadtester inside the
cluster through the API server's service proxy, with Flagger's pass/fail semantics."""
import pytest
import yaml

from pdtest.manifests import acceptance_hook, host_for
from pdtest.sandbox import canary_events, wait_for_series

from canary_world import (build_world, canary_manifest, canary_service_series, canary_status,
                          describe_canary, run_task)
from traffic_world import scratch_namespace

MODULE = "progressive.delivery.canary_webhook"


@pytest.fixture(scope="module")
def world(sandbox):
    """The canary, its Services and the loadtester, shared by this file's tests."""
    name, delete_namespace = scratch_namespace(sandbox, "webhook")
    try:
        build_world(sandbox, name, canary_manifest(name))
        yield name
    finally:
        delete_namespace()


def with_hooks(sandbox, namespace, *hooks):
    """Give the shared Canary these webhooks and a clean failed-check count."""
    sandbox.apply(yaml.safe_dump(canary_manifest(namespace, webhooks=list(hooks))),
                  namespace=namespace)
    sandbox.kubectl("-n", namespace, "patch", "canary/podinfo", "--subresource=status",
                    "--type=merge", "-p", '{"status": {"failedChecks": 0}}')
    return list(canary_events(sandbox, namespace))


def new_events(sandbox, namespace, before):
    events = list(canary_events(sandbox, namespace))
    return events[len(before):] if events[:len(before)] == before else events


def pre_rollout(namespace):
    return {"name": "podinfo", "namespace": namespace, "type": "pre-rollout"}


def test_the_articles_acceptance_test_passes(sandbox, world, tmp_path):
    before = with_hooks(sandbox, world, acceptance_hook(world))

    rc, result = run_task(sandbox, tmp_path, MODULE, pre_rollout(world))

    assert rc == 0, result
    assert result["passed"] is True
    [hook] = result["results"]
    assert hook["route"] == "api_proxy"
    assert hook["status"] == 200
    assert "Pre-rollout check acceptance-test passed" in new_events(sandbox, world, before)
    assert canary_status(sandbox, world).get("failedChecks", 0) == 0


def test_a_failing_acceptance_test_fails_and_counts_a_failed_check(sandbox, world, tmp_path):
    with_hooks(sandbox, world, acceptance_hook(world, grep="no-such-token-field"))

    rc, result = run_task(sandbox, tmp_path, MODULE, pre_rollout(world))

    assert rc == 0, result  # a failed hook is a result, not an error
    assert result["passed"] is False
    assert result["results"][0]["status"] == 500
    assert "no-such-token-field" in result["msg"]
    assert result["failed_checks"] == 1
    assert canary_status(sandbox, world)["failedChecks"] == 1
    assert f"Halt podinfo.{world} advancement pre-rollout check acceptance-test failed" in \
        describe_canary(sandbox, world)


def test_the_load_test_hook_sends_traffic_that_prometheus_sees(sandbox, world, tmp_path):
    load_test = {
        "name": "load-test", "type": "rollout", "url": f"http://flagger-loadtester.{world}/",
        "timeout": "5s",
        "metadata": {"type": "cmd", "logCmdOutput": "true",
                     "cmd": f"hey -z 20s -q 10 -c 2 -host {host_for(world)} http://traefik.traefik/"},
    }
    with_hooks(sandbox, world, load_test)
    assert sandbox.prometheus_query(canary_service_series(world)) == []

    rc, result = run_task(sandbox, tmp_path, MODULE,
                          {"name": "podinfo", "namespace": world, "type": "rollout"})

    assert rc == 0, result
    assert result["passed"] is True
    assert result["results"][0]["status"] == 202
    series = wait_for_series(sandbox, canary_service_series(world))
    assert sum(float(s["value"][1]) for s in series) > 0


def test_check_mode_calls_no_hook(sandbox, world, tmp_path):
    before = with_hooks(sandbox, world, acceptance_hook(world, grep="no-such-token-field"))

    rc, result = run_task(sandbox, tmp_path, MODULE, pre_rollout(world), check=True)

    assert rc == 0, result
    assert result["results"][0]["passed"] is None
    assert "not called in check mode" in result["results"][0]["msg"]
    # the hook would have failed and been counted; nothing happened
    assert canary_status(sandbox, world).get("failedChecks", 0) == 0
    assert new_events(sandbox, world, before) == []


def test_an_unknown_hook_type_is_refused_naming_the_choices(sandbox, world, tmp_path):
    rc, result = run_task(sandbox, tmp_path, MODULE,
                          {"name": "podinfo", "namespace": world, "type": "pre-release"})

    assert rc != 0
    assert "value of type must be one of" in result["msg"]
    assert "confirm-traffic-increase" in result["msg"]
