"""Flagger's own end-to-end scenario for Traefik, run by the role instead of the controller.

The checks are those of Flagger's Traefik e2e test (test/traefik in the Flagger module), in our
words and against our sandbox: the Canary's apex labels and annotations reach the apex Service and
the TraefikService, the apex Service selects the primary, a confirm-rollout gate asks Flagger's
load tester at /gate/approve, two pre-rollout acceptance checks curl the canary Service and
Traefik's Service by cluster DNS from inside the load tester, the load comes from a `cmd` webhook
the load tester runs in the background, and the new image ends up on the primary.
"""
import json

from pdtest.apps import deploy_loadtester, deploy_podinfo, set_image
from pdtest.load import versions_through_traefik
from pdtest.manifests import host_for
from pdtest.playbooks import run_playbook
from pdtest.sandbox import canary_events, get_json

from canary_world import canary_service_series

APEX = {"labels": {"test": "test-label"}, "annotations": {"test": "test-annotation"}}


def peer_canary(namespace):
    """The shape of Flagger's e2e Canary, with shorter intervals and this namespace's host name."""
    host = host_for(namespace)
    loadtester = f"http://flagger-loadtester.{namespace}/"
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": namespace},
        "spec": {
            "provider": "traefik",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            # Generous: real controllers on a busy machine may take a while to roll pods out.
            "progressDeadlineSeconds": 90,
            "service": {"port": 80, "targetPort": 9898, "apex": APEX},
            "analysis": {
                "interval": "3s",
                "threshold": 15,
                "maxWeight": 60,
                "stepWeight": 20,
                "metrics": [
                    {"name": "request-success-rate", "threshold": 99, "interval": "15s"},
                    {"name": "request-duration", "threshold": 500, "interval": "15s"},
                ],
                "webhooks": [
                    {"name": "gate", "type": "confirm-rollout", "url": loadtester + "gate/approve"},
                    {"name": "acceptance-test", "type": "pre-rollout", "url": loadtester, "timeout": "10s",
                     "metadata": {"type": "bash",
                                  "cmd": f"curl -sd 'test' http://podinfo-canary.{namespace}/token | grep token"}},
                    {"name": "traefik-acceptance-test", "type": "pre-rollout", "url": loadtester, "timeout": "10s",
                     "metadata": {"type": "bash", "logCmdOutput": "true",
                                  "cmd": f"curl -sd 'test' -H 'Host: {host}' http://traefik.traefik/token | grep token"}},
                    # No type: a rollout hook, started at every step; the load tester keeps one running.
                    {"name": "load-test", "url": loadtester, "timeout": "5s",
                     "metadata": {"type": "cmd", "logCmdOutput": "true",
                                  "cmd": f"hey -z 2m -q 10 -c 2 -host {host} http://traefik.traefik"}},
                ],
            },
        },
    }


def test_flaggers_traefik_scenario_passes_with_the_role(sandbox, namespace):
    deploy_podinfo(sandbox, namespace)
    deploy_loadtester(sandbox, namespace)
    sandbox.apply(json.dumps(peer_canary(namespace)), namespace=namespace)
    release = {"canary_name": "podinfo", "canary_namespace": namespace}

    first = run_playbook(sandbox, extra_vars=release)
    assert first.returncode == 0, first.stdout[-4000:]
    assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["phase"] == "Initialized"

    # The apex Service routes to the primary and carries the apex metadata, as does the TraefikService.
    apex = get_json(sandbox, namespace, "service", "podinfo")
    assert apex["spec"]["selector"] == {"app": "podinfo-primary"}
    traefik_service = get_json(sandbox, namespace, "traefikservices.traefik.io", "podinfo")
    for obj in (apex, traefik_service):
        assert obj["metadata"]["labels"]["test"] == "test-label", obj["metadata"]
        assert obj["metadata"]["annotations"]["test"] == "test-annotation", obj["metadata"]

    set_image(sandbox, namespace, "4.0.6")
    second = run_playbook(sandbox, extra_vars=release, timeout=400)
    assert second.returncode == 0, second.stdout[-4000:]

    events = canary_events(sandbox, namespace)
    # The gate opened at once; both acceptance checks passed inside the load tester.
    for check in ("acceptance-test", "traefik-acceptance-test"):
        assert f"Pre-rollout check {check} passed" in events, events
    assert not [e for e in events if "Rolling back" in e], events
    assert f"Advance podinfo.{namespace} canary weight 60" in events, events
    assert f"Promotion completed! Scaling down podinfo.{namespace}" in events, events
    primary = get_json(sandbox, namespace, "deployment", "podinfo-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "stefanprodan/podinfo:4.0.6"
    assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["phase"] == "Succeeded"
    # The load the `cmd` webhook started reached the canary through Traefik while it had weight
    # (over a range: the canary's series went stale when it left the TraefikService).
    series = sandbox.prometheus_query(f"max_over_time({canary_service_series(namespace)}[10m])")
    assert sum(float(s["value"][1]) for s in series) > 0, (series, events)
    assert versions_through_traefik(sandbox, namespace, 100) == {"4.0.6": 100}
