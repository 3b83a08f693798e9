"""Releases gated on InfluxDB and Graphite queries, against Debian's real servers fed from
Traefik's request counters (kubesandbox ``time_series_stores``): a healthy revision is promoted, a
failing one is rolled back with both stores reporting its errors, and a store that is down or has
no data for the query fails the check with a message naming the template and its provider."""
import re

import pytest
import yaml

from pdtest.apps import deploy_podinfo, install_crds, set_image
from pdtest.load import Load, versions_through_traefik
from pdtest.manifests import fast_canary, write_canary
from pdtest.playbooks import run_playbook, run_tasks
from pdtest.sandbox import canary_events, get_json

from traffic_world import scratch_namespace

# The share of the canary's answers that were 5xx over the metric's interval, from the points the
# feeder writes once a second per Traefik service (requests and errors of that second).
INFLUXQL_ERROR_PERCENTAGE = """
SELECT sum("errors") * 100 / sum("requests") FROM "traefik_service_requests"
WHERE "service" =~ /^{{ namespace }}-{{ variables.svc }}-[0-9]+$/ AND time > now() - {{ interval }}
"""
GRAPHITE_ERROR_PERCENTAGE = """
target=asPercent(summarize(sumSeries(traefik.service.{{ namespace }}-{{ variables.svc }}-*.errors),
  "{{ interval }}","sum",true),summarize(sumSeries(traefik.service.{{ namespace }}-{{ variables.svc }}-*.requests),
  "{{ interval }}","sum",true))
&from=-{{ interval }}&until=now
"""


def template(name, namespace, provider, query):
    return {"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"provider": provider, "query": query}}


def gate(name, template_name, svc="podinfo-canary"):
    return {"name": name, "templateRef": {"name": template_name}, "interval": "10s",
            "templateVariables": {"svc": svc}, "thresholdRange": {"max": 5}}


@pytest.fixture(scope="module")
def world(sandbox, time_series_stores, tmp_path_factory):
    """podinfo 4.0.5 initialised as a canary target, with the templates of both stores; the
    InfluxDB one reads its credentials from a Secret, as that InfluxDB asks for them."""
    stores = time_series_stores
    install_crds(sandbox)
    namespace, delete = scratch_namespace(sandbox, "tsdb")
    try:
        sandbox.kubectl("-n", namespace, "create", "secret", "generic", "influxdb-reader",
                        f"--from-literal=username={stores.influxdb_user}",
                        f"--from-literal=password={stores.influxdb_password}")
        templates = [
            template("influxdb-errors", namespace,
                     {"type": "influxdb", "address": f"{stores.influxdb_url}?db={stores.influxdb_database}",
                      "secretRef": {"name": "influxdb-reader"}}, INFLUXQL_ERROR_PERCENTAGE),
            template("graphite-errors", namespace, {"type": "graphite", "address": stores.graphite_url},
                     GRAPHITE_ERROR_PERCENTAGE),
            template("influxdb-down", namespace,
                     {"type": "influxdb", "address": "http://127.0.0.1:9?db=traefik"}, INFLUXQL_ERROR_PERCENTAGE),
            template("graphite-down", namespace, {"type": "graphite", "address": "http://127.0.0.1:9"},
                     GRAPHITE_ERROR_PERCENTAGE),
        ]
        sandbox.apply(yaml.safe_dump_all(templates, sort_keys=False), namespace=namespace)
        deploy_podinfo(sandbox, namespace)
        directory = tmp_path_factory.mktemp("tsdb")
        first = run_playbook(sandbox, extra_vars={"canary_file": str(write_canary(directory, fast_canary(namespace)))})
        assert first.returncode == 0, first.stdout[-4000:]
        yield namespace, directory
    finally:
        delete()


GATES = [gate("influxdb error percentage", "influxdb-errors"), gate("graphite error percentage", "graphite-errors")]


def release(sandbox, namespace, directory, version, threshold, env=None):
    """A release of ``version`` gated on both stores, under steady load through Traefik."""
    path = write_canary(directory, fast_canary(namespace, threshold=threshold, metrics=GATES), f"{version}.yaml")
    load = Load(sandbox, namespace, rps=30)
    try:
        set_image(sandbox, namespace, version, env=env)
        return run_playbook(sandbox, extra_vars={"canary_file": str(path)})
    finally:
        load.stop()


def primary_image(sandbox, namespace):
    return get_json(sandbox, namespace, "deployment", "podinfo-primary")["spec"]["template"]["spec"]["containers"][0]["image"]


def test_healthy_revision_gated_on_influxdb_and_graphite_is_promoted(sandbox, world):
    namespace, directory = world

    # A threshold of 3: the first tick after the weight moves may find no point yet, which is a
    # failed check (no data), as in Flagger.
    result = release(sandbox, namespace, directory, "4.0.6", threshold=3)

    assert result.returncode == 0, result.stdout[-4000:]
    # Each step passed on the values both stores computed from the canary's real traffic.
    assert re.search(r"influxdb error percentage 0(\.0+)?%? <", result.stdout), result.stdout[-4000:]
    assert re.search(r"graphite error percentage 0(\.0+)?%? <", result.stdout), result.stdout[-4000:]
    assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["phase"] == "Succeeded"
    assert primary_image(sandbox, namespace) == "stefanprodan/podinfo:4.0.6"
    assert versions_through_traefik(sandbox, namespace, 300) == {"4.0.6": 300}


def test_failing_revision_gated_on_influxdb_and_graphite_is_rolled_back(sandbox, world):
    namespace, directory = world
    before = primary_image(sandbox, namespace)

    result = release(sandbox, namespace, directory, "4.0.7", threshold=2, env={"SANDBOX_FAIL_RATE": "1"})

    assert result.returncode != 0, "the play must fail after a rollback"
    # Every canary answer is a 500: both stores saw 100% errors through Traefik.
    assert re.search(r"influxdb error percentage 100(\.0+)?%? >", result.stdout), result.stdout[-4000:]
    assert re.search(r"graphite error percentage 100(\.0+)?%? >", result.stdout), result.stdout[-4000:]
    events = canary_events(sandbox, namespace)
    assert f"Rolling back podinfo.{namespace} failed checks threshold reached 2" in events
    assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["phase"] == "Failed"
    assert get_json(sandbox, namespace, "deployment", "podinfo")["spec"]["replicas"] == 0
    assert primary_image(sandbox, namespace) == before
    assert versions_through_traefik(sandbox, namespace, 300) == {before.rsplit(":", 1)[1]: 300}


def test_unreachable_store_or_query_without_data_fails_the_check_naming_template_and_provider(
        sandbox, world, tmp_path):
    namespace, _directory = world
    cases = [  # template, Canary service it measures, provider
        ("influxdb-down", "podinfo-canary", "influxdb"),
        ("graphite-down", "podinfo-canary", "graphite"),
        # No Traefik service of this name ever answered, so neither store holds a point for it.
        ("influxdb-errors", "never-served", "influxdb"),
        ("graphite-errors", "never-served", "graphite"),
    ]
    tasks = [{"progressive.delivery.metric_check": {
        "namespace": namespace, "target": "podinfo", "interval": "10s", "template_ref": {"name": name},
        "template_variables": {"svc": svc}, "threshold_range": {"max": 5}}, "ignore_errors": True}
        for name, svc, _provider in cases]

    _rc, results, _stats = run_tasks(sandbox, tmp_path, tasks)

    for (name, _svc, provider), result in zip(cases, results):
        assert f"MetricTemplate {namespace}/{name} (provider {provider})" in result["msg"], result
        assert result.get("passed") is False, result
    influx_down, graphite_down, influx_empty, graphite_empty = results
    assert influx_down.get("failed") and "Cannot reach InfluxDB at http://127.0.0.1:9" in influx_down["msg"]
    assert graphite_down.get("failed") and "Cannot reach Graphite at http://127.0.0.1:9" in graphite_down["msg"]
    assert influx_empty["verdict"] == "no_data" and "returned no series" in influx_empty["msg"]
    assert graphite_empty["verdict"] == "no_data" and "no datapoints" in graphite_empty["msg"]
