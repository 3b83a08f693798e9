"""Our JSON web provider against a local JSON endpoint: the request it sends (method, path, headers from
the Secret, body) and how the JMESPath expression's result becomes a value, no data or an error."""
import base64

import pytest

from pdtest.http_recorder import RecordingServer

from ansible_collections.progressive.delivery.plugins.module_utils.errors import DeliveryError, InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.metrics import plan_check, run_check
from ansible_collections.progressive.delivery.plugins.module_utils.providers.factory import provider_for
from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import NoData, ProviderError

ANSWER = {"service": "cart", "data": {"errorRate": 0.5, "windows": [{"p99": 120}, {"p99": 180}], "empty": []}}


@pytest.fixture
def endpoint():
    server = RecordingServer(reply=ANSWER)
    try:
        yield server
    finally:
        server.stop()


def test_get_picks_the_number_and_sends_the_secret_as_headers(endpoint):
    provider = provider_for("json", endpoint.url + "/metrics/cart",
                            credentials={"Authorization": "Bearer tok-1", "X-Api-Key": "k-2"})
    assert provider.run_query("data.errorRate") == 0.5
    seen = endpoint.requests[0]
    assert (seen.method, seen.path) == ("GET", "/metrics/cart")
    assert seen.headers["Authorization"] == "Bearer tok-1" and seen.headers["X-Api-Key"] == "k-2"


def test_post_with_path_and_body_from_a_mapping_query(endpoint):
    provider = provider_for("json", endpoint.url + "/api")
    query = "jmespath: max(data.windows[].p99)\nmethod: POST\npath: query?window=1m\nbody:\n  app: cart\n  codes: [500, 503]\n"
    assert provider.run_query(query) == 180.0
    seen = endpoint.requests[0]
    assert (seen.method, seen.path) == ("POST", "/api/query?window=1m")
    assert seen.json() == {"app": "cart", "codes": [500, 503]}


@pytest.mark.parametrize("expression", ["data.missing", "data.empty"])
def test_nothing_found_is_no_data(endpoint, expression):
    with pytest.raises(NoData, match="jmespath"):
        provider_for("json", endpoint.url).run_query(expression)


@pytest.mark.parametrize("expression, message", [
    ("data.windows[].p99", "found 2 values, expected one number"),
    ("service", "'cart', expected a number"),
])
def test_several_values_or_text_is_an_error(endpoint, expression, message):
    with pytest.raises(ProviderError, match=message):
        provider_for("json", endpoint.url).run_query(expression)


@pytest.mark.parametrize("query, message", [
    ("jmespath: a\nmethod: PUT", "method must be GET or POST"),
    ("jmespath: a\nurl: /x", r"unknown key\(s\) url; allowed: jmespath, path, method, body"),
    ("jmespath: a\nbody: {x: 1}", "only sent with method POST"),
    ("data.[", "is not valid"),
])
def test_bad_queries_are_refused_naming_what_is_allowed(endpoint, query, message):
    with pytest.raises(InvalidInput, match=message):
        provider_for("json", endpoint.url).run_query(query)
    assert endpoint.requests == []


def test_error_answers_are_quoted():
    for status, reply, message in [(500, {"error": "backend down"}, 'answered HTTP 500: {"error": "backend down"}'),
                                   (200, b"<html>login</html>", "answered HTTP 200 without JSON: <html>login</html>")]:
        server = RecordingServer(status=status, reply=reply)
        try:
            with pytest.raises(ProviderError) as err:
                provider_for("json", server.url).run_query("a")
            assert str(err.value) == "JSON endpoint at {0} {1}".format(server.url, message)
        finally:
            server.stop()


def test_address_must_be_a_url():
    with pytest.raises(InvalidInput, match="json provider needs spec.provider.address, an http:// or https:// URL"):
        provider_for("json", None)


def test_template_placeholders_are_rendered_into_path_and_body_and_the_check_is_judged(endpoint):
    template = {"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate",
                "metadata": {"name": "error-rate", "namespace": "shop"},
                "spec": {"provider": {"type": "json", "address": endpoint.url, "secretRef": {"name": "web"}},
                         "query": "jmespath: data.errorRate\nmethod: POST\npath: /rate/{{ target }}\n"
                                  "body:\n  window: '{{ interval }}'\n"}}
    params = {"template": template, "namespace": "shop", "target": "cart", "interval": "2m",
              "threshold_range": {"max": 1}}
    secret = {"data": {"Authorization": base64.b64encode(b"Bearer s3cret").decode()}}
    result = run_check(plan_check(params, read_secret=lambda ns, name: secret), params["threshold_range"])
    assert (result["verdict"], result["value"], result["passed"]) == ("pass", 0.5, True)
    assert endpoint.requests[0].path == "/rate/cart" and endpoint.requests[0].json() == {"window": "2m"}
    assert "s3cret" not in repr(result)


def test_unreachable_endpoint_fails_the_check_naming_template_and_provider():
    template = {"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate",
                "metadata": {"name": "error-rate", "namespace": "shop"},
                "spec": {"provider": {"type": "json", "address": "http://127.0.0.1:9/rate"}, "query": "a"}}
    params = {"template": template, "namespace": "shop", "interval": "1m", "threshold_range": {"max": 1}}
    with pytest.raises(DeliveryError, match=r"^MetricTemplate shop/error-rate \(provider json\): Cannot reach "
                                            r"JSON endpoint at http://127.0.0.1:9/rate"):
        run_check(plan_check(params), params["threshold_range"])


def test_a_query_the_provider_cannot_read_is_refused_naming_template_and_provider(endpoint):
    template = {"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate",
                "metadata": {"name": "error-rate", "namespace": "shop"},
                "spec": {"provider": {"type": "json", "address": endpoint.url},
                         "query": "jmespath: data.errorRate\nmethod: PUT\n"}}
    params = {"template": template, "namespace": "shop", "interval": "1m", "threshold_range": {"max": 1}}
    with pytest.raises(InvalidInput) as err:
        run_check(plan_check(params), params["threshold_range"])
    assert str(err.value) == ("MetricTemplate shop/error-rate (provider json): the json provider's query "
                              "method must be GET or POST; got 'PUT'")
    assert endpoint.requests == []
