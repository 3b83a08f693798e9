"""metric_check with MetricTemplates of our json provider, read from the sandbox's API server with their
Secret, asking a real podinfo pod through the real Traefik: the template's Host header routes the request,
the JMESPath expression picks the number, and a template without data or without its Secret fails."""
import pytest
import yaml

from pdtest.apps import deploy_pair, install_crds
from pdtest.manifests import host_for
from pdtest.playbooks import run_tasks

from traffic_world import scratch_namespace

CANARY_ONLY = {"podinfo-primary": 0, "podinfo-canary": 100}


def json_template(name, traefik_url, namespace, query, secret="json-auth"):
    provider = {"type": "json", "address": traefik_url, "headers": {"Host": [host_for(namespace)]}}
    if secret:
        provider["secretRef"] = {"name": secret}
    return {"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate",
            "metadata": {"name": name}, "spec": {"provider": provider, "query": query}}


@pytest.fixture(scope="module")
def world(sandbox):
    install_crds(sandbox)
    namespace, delete = scratch_namespace(sandbox, "mc-json")
    try:
        deploy_pair(sandbox, namespace, weights=CANARY_ONLY)
        url = sandbox.traefik_url
        docs = [
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "json-auth"},
             "stringData": {"X-Api-Key": "k-5f1e-do-not-log"}},
            # podinfo answers /delay/<s> with {"delay": <s>} after that many seconds.
            json_template("delay-short", url, namespace, "jmespath: delay\npath: /delay/0.05\n"),
            json_template("delay-long", url, namespace, "jmespath: delay\nmethod: POST\npath: /delay/0.3\n"),
            json_template("no-such-field", url, namespace, "jmespath: latency.p99\npath: /delay/0\n"),
            json_template("version-text", url, namespace, "version", secret=None),
            json_template("secret-gone", url, namespace, "delay", secret="json-auth-gone"),
        ]
        sandbox.apply(yaml.safe_dump_all(docs), namespace=namespace)
        yield namespace
    finally:
        delete()


def check(namespace, template, threshold_range, **extra):
    args = {"template_ref": {"name": template}, "namespace": namespace, "target": "podinfo",
            "threshold_range": threshold_range}
    return dict({"progressive.delivery.metric_check": args, "ignore_errors": True}, **extra)


def test_json_templates_gate_on_a_real_endpoint_through_traefik(sandbox, world, tmp_path):
    _rc, results, _stats = run_tasks(sandbox, tmp_path, [
        check(world, "delay-short", {"max": 0.1}),
        check(world, "delay-long", {"max": 0.1}),
        check(world, "no-such-field", {"max": 0.1}),
        check(world, "version-text", {"max": 0.1}),
        check(world, "secret-gone", {"max": 0.1}),
    ])
    short, long_, no_data, text, secret_gone = results

    assert (short["verdict"], short["value"], short["passed"]) == ("pass", 0.05, True), short
    assert (long_["verdict"], long_["value"], long_["passed"]) == ("fail", 0.3, False), long_
    assert long_["msg"] == "delay-long 0.30 > 0.1"

    assert (no_data["verdict"], no_data["passed"], no_data["value"]) == ("no_data", False, None), no_data
    assert "MetricTemplate {0}/no-such-field (provider json)".format(world) in no_data["msg"]

    # podinfo's version is text: an error naming the template, the provider and what was found.
    assert text["failed"] and text["verdict"] == "error", text
    assert text["msg"].startswith("MetricTemplate {0}/version-text (provider json): ".format(world))
    assert "expected a number" in text["msg"]

    assert secret_gone["failed"] and secret_gone.get("passed") in (None, False), secret_gone
    assert secret_gone["msg"].startswith(
        "MetricTemplate {0}/secret-gone (provider json): cannot read its secretRef Secret "
        "{0}/json-auth-gone".format(world)), secret_gone["msg"]
    assert all("k-5f1e-do-not-log" not in repr(r) for r in results)
