"""metric_check refuses bad input, and reports provider errors in the provider's own words."""
import pytest

from pdtest.apps import deploy_pair, install_crds
from pdtest.playbooks import run_tasks

from traffic_world import assert_failed_without_changes, scratch_namespace


@pytest.fixture(scope="module")
def world(sandbox):
    install_crds(sandbox)
    namespace, delete = scratch_namespace(sandbox, "mc-bad")
    try:
        deploy_pair(sandbox, namespace)
        yield namespace
    finally:
        delete()


def raw(query):
    """Keep Ansible's own templating away from the query's {{ }} placeholders."""
    return "{% raw %}" + query + "{% endraw %}"


CASES = [
    ("unreachable-prometheus", {"provider": {"address": "http://127.0.0.1:9"}},
     ["Cannot reach Prometheus at http://127.0.0.1:9", "refused"]),
    ("malformed-promql", {"metric": None, "query": "sum(rate(traefik_service_requests_total[1m]"},
     ["Prometheus query failed (bad_data)", "parse error"]),
    ("min-above-max", {"threshold_range": {"min": 99, "max": 50}},
     ["threshold_range.min (99) must not be greater than threshold_range.max (50)"]),
    ("empty-threshold-range", {"threshold_range": {}}, ["threshold_range needs min, max or both"]),
    ("unknown-template-variable",
     {"metric": None, "query": raw('sum(up{job="{{ variables.missing }}"})'), "template_variables": {"job": "x"}},
     ["unknown template variable variables.missing", "known: job"]),
    ("unknown-placeholder", {"metric": None, "query": raw('sum(up{job="{{ jobname }}"})')},
     ["unknown template variable jobname"]),
    ("promql-injection-in-target", {"target": 'podinfo"} or vector(1) #'},
     ["target must be a DNS label", "vector(1)"]),
    ("unsafe-variable-value",
     {"metric": None, "query": raw('sum(up{code="{{ variables.code }}"})'), "template_variables": {"code": '5.."} or up{a="'}},
     ["template variable code may only contain"]),
    ("interval-not-a-duration", {"interval": "1 minute"}, ["interval must be a Prometheus duration", "'1 minute'"]),
    ("missing-metric-template", {"metric": None, "template_ref": {"name": "nope"}},
     ["MetricTemplate {ns}/nope not found"]),
    ("two-query-sources", {"query": "up"}, ["mutually exclusive", "metric", "query"]),
]


@pytest.mark.parametrize("args, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_or_provider_error_fails_with_a_clear_message(sandbox, world, tmp_path, args, expected):
    task_args = {"metric": "request-success-rate", "namespace": world, "target": "podinfo",
                 "threshold_range": {"min": 99}, "provider": {"address": sandbox.prometheus_url}}
    task_args.update(args)
    task_args = {k: v for k, v in task_args.items() if v is not None}

    def run():
        rc, results, _stats = run_tasks(sandbox, tmp_path, [{"progressive.delivery.metric_check": task_args}])
        return rc, results

    result = assert_failed_without_changes(sandbox, world, run, [e.format(ns=world) for e in expected])
    assert result.get("passed") in (None, False)
