"""MetricTemplate parsing and safe rendering of query placeholders."""
import pytest

from ansible_collections.progressive.delivery.plugins.module_utils.errors import InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.metric_templates import (
    parse_metric_template,
    render_query,
    validate_interval,
)

CONTEXT = {"name": "podinfo", "namespace": "test", "target": "podinfo", "service": "podinfo-canary",
           "ingress": None, "route": None, "interval": "1m"}


def test_renders_builtin_names_and_variables():
    query = 'rate(x{service=~"{{ namespace }}-{{service}}-.*",code="{{ variables.code }}"}[{{ interval }}])'
    assert render_query(query, CONTEXT, {"code": 404}) == 'rate(x{service=~"test-podinfo-canary-.*",code="404"}[1m])'


def test_renders_the_article_template_like_flagger():
    query = 'service=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd"'
    assert render_query(query, CONTEXT) == 'service=~"test-podinfo-canary-[0-9a-zA-Z-]+@kubernetescrd"'


def test_unknown_variable_is_named():
    with pytest.raises(InvalidInput, match=r"unknown template variable variables\.region.*known: code"):
        render_query("{{ variables.region }}", CONTEXT, {"code": "1"})


def test_unknown_builtin_is_named():
    with pytest.raises(InvalidInput, match="unknown template variable cluster"):
        render_query("{{ cluster }}", CONTEXT)


def test_builtin_without_value_asks_for_the_option():
    with pytest.raises(InvalidInput, match="ingress is used by the query but has no value; set the ingress option"):
        render_query("{{ ingress }}", CONTEXT)


@pytest.mark.parametrize("expression", ["{{ name | upper }}", "{{ .Name }}", "{{ printf \"%s\" name }}"])
def test_go_or_jinja_expressions_are_refused(expression):
    with pytest.raises(InvalidInput, match="unsupported template expression"):
        render_query(expression, CONTEXT)


@pytest.mark.parametrize("field, value", [("target", 'podinfo"} or vector(1) #'), ("namespace", "Test"),
                                          ("service", "a" * 64)])
def test_names_must_be_dns_labels(field, value):
    context = dict(CONTEXT, **{field: value})
    with pytest.raises(InvalidInput, match="{0} must be a DNS label".format(field)):
        render_query("{{ %s }}" % field, context)


@pytest.mark.parametrize("value", ['5.."} or up{a="', "a b", "x)", "x,y", "a\\b", "{{x}}"])
def test_variable_values_that_could_change_promql_are_refused(value):
    with pytest.raises(InvalidInput, match="template variable code may only contain"):
        render_query("{{ variables.code }}", CONTEXT, {"code": value})


@pytest.mark.parametrize("value", ["GET", "/api/v1", "2.5", "us-east-1", "user@example.com"])
def test_ordinary_label_values_are_accepted(value):
    assert render_query("{{ variables.v }}", CONTEXT, {"v": value}) == value


@pytest.mark.parametrize("good", ["30s", "1m", "1h30m", "500ms"])
def test_intervals_are_prometheus_durations(good):
    assert validate_interval(good) == good


@pytest.mark.parametrize("bad", ["1 minute", "1m]) or vector(1", "", "5"])
def test_bad_intervals_are_refused(bad):
    with pytest.raises(InvalidInput, match="interval must be a Prometheus duration"):
        validate_interval(bad)


def test_unterminated_placeholder_is_refused():
    with pytest.raises(InvalidInput, match="unterminated"):
        render_query("sum(x{a=\"{{ name \"})", CONTEXT)


ARTICLE_TEMPLATE = {
    "apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate",
    "metadata": {"name": "not-found-percentage", "namespace": "test"},
    "spec": {"provider": {"type": "prometheus", "address": "http://flagger-prometheus.traefik:9090",
                          "secretRef": {"name": "prom-auth"}},
             "query": "sum(x)"},
}


def test_parses_a_flagger_metric_template():
    template = parse_metric_template(ARTICLE_TEMPLATE)
    assert (template.name, template.namespace, template.query) == ("not-found-percentage", "test", "sum(x)")
    assert template.address == "http://flagger-prometheus.traefik:9090"
    assert template.secret_ref == {"name": "prom-auth"}


def test_other_providers_are_refused_by_name():
    manifest = dict(ARTICLE_TEMPLATE, spec={"provider": {"type": "externalmetrics"}, "query": "x"})
    with pytest.raises(InvalidInput, match="uses spec.provider.type 'externalmetrics'; supported: "
                                           "cloudwatch, datadog, dynatrace, graphite, influxdb, json, keptn, "
                                           "newrelic, prometheus, splunk, stackdriver"):
        parse_metric_template(manifest)


def test_a_manifest_of_another_kind_is_refused():
    with pytest.raises(InvalidInput, match="must be a flagger.app/v1beta1 MetricTemplate"):
        parse_metric_template(dict(ARTICLE_TEMPLATE, kind="Canary"))


# --- Go's template forms, as Flagger renders them with text/template ---------------------------

def test_go_trim_markers_remove_the_white_space_beside_them():
    query = 'x{namespace="\n  {{- namespace -}}\n  ",code="{{- variables.code }}"}'
    assert render_query(query, CONTEXT, {"code": 404}) == 'x{namespace="test",code="404"}'


def test_index_and_parenthesised_variables_are_variables():
    query = '{{ index variables "code" }}/{{ (variables).code }}/{{index (variables) "code"}}'
    assert render_query(query, CONTEXT, {"code": 404}) == "404/404/404"


def test_go_comments_render_as_nothing():
    assert render_query("a{{/* the canary's namespace */}}b", CONTEXT) == "ab"


@pytest.mark.parametrize("expression, construct", [
    ("{{ .variables.code }}", "Flagger renders queries without data"),
    ("{{ if true }}x{{ end }}", "the if action"),
    ("{{ namespace | printf \"%s\" }}", "a pipeline"),
    ("{{ printf \"%s-canary\" name }}", "a call of the function printf"),
])
def test_other_go_constructs_are_refused_naming_them(expression, construct):
    with pytest.raises(InvalidInput, match="unsupported template expression") as info:
        render_query(expression, CONTEXT, {"code": "1"})
    assert construct in str(info.value)
