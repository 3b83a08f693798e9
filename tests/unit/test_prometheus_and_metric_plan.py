"""Prometheus answers, provider settings precedence, and the check's verdicts."""
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ansible_collections.progressive.delivery.plugins.module_utils.errors import DeliveryError, InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.metrics import plan_check, run_check
from ansible_collections.progressive.delivery.plugins.module_utils.providers.prometheus import (
    NoData,
    PrometheusError,
    PrometheusProvider,
    parse_query_response,
)


def vector(*values):
    return {"status": "success", "data": {"resultType": "vector",
                                          "result": [{"metric": {}, "value": [1.0, v]} for v in values]}}


def test_single_series_value_is_returned_as_float():
    assert parse_query_response(200, vector("99.5"), "") == 99.5


def test_scalar_results_are_accepted():
    assert parse_query_response(200, {"status": "success", "data": {"resultType": "scalar", "result": [1, "3"]}},
                                "") == 3.0


@pytest.mark.parametrize("body", [vector(), vector("NaN"), vector("+Inf")])
def test_empty_or_nan_is_no_data(body):
    with pytest.raises(NoData):
        parse_query_response(200, body, "")


def test_several_series_ask_for_aggregation():
    with pytest.raises(PrometheusError, match="returned 2 series, expected one; aggregate it"):
        parse_query_response(200, vector("1", "2"), "")


def test_prometheus_error_keeps_prometheus_message():
    body = {"status": "error", "errorType": "bad_data", "error": "1:5: parse error: unclosed left parenthesis"}
    with pytest.raises(PrometheusError) as err:
        parse_query_response(400, body, "")
    assert str(err.value) == "Prometheus query failed (bad_data): 1:5: parse error: unclosed left parenthesis"


def test_non_api_answer_names_the_status_and_body():
    with pytest.raises(PrometheusError, match="answered HTTP 502 without a Prometheus API response: Bad Gateway"):
        parse_query_response(502, None, "Bad Gateway\n", "http://p")


class Recorder(BaseHTTPRequestHandler):
    seen = []

    def do_POST(self):  # noqa: N802 - http.server API
        length = int(self.headers.get("Content-Length", 0))
        Recorder.seen.append((dict(self.headers), self.rfile.read(length).decode()))
        body = json.dumps(vector("42")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def prometheus_stub():
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Recorder.seen = []
    try:
        yield "http://127.0.0.1:{0}".format(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_provider_sends_the_query_with_bearer_token_and_headers(prometheus_stub):
    provider = PrometheusProvider(prometheus_stub + "/", bearer_token="t0k", headers={"X-Scope-OrgID": "team"})
    assert provider.query("sum(up)") == 42.0
    headers, body = Recorder.seen[0]
    assert headers["Authorization"] == "Bearer t0k" and headers["X-Scope-OrgID"] == "team"
    assert body == "query=sum%28up%29"


def test_provider_uses_basic_auth(prometheus_stub):
    PrometheusProvider(prometheus_stub, username="u", password="p").query("up")
    assert Recorder.seen[0][0]["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()


def test_unreachable_provider_says_so():
    with pytest.raises(PrometheusError, match="Cannot reach Prometheus at http://127.0.0.1:9"):
        PrometheusProvider("http://127.0.0.1:9", timeout=2).query("up")


def test_address_must_be_http():
    with pytest.raises(InvalidInput, match="provider.address must be an http:// or https:// URL"):
        PrometheusProvider("prometheus:9090")


PARAMS = {"metric": "request-success-rate", "namespace": "test", "target": "podinfo", "interval": "1m",
          "threshold_range": {"min": 99, "max": None}, "provider": {"type": "prometheus", "address": None}}

TEMPLATE = {"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate",
            "metadata": {"name": "errors", "namespace": "test"},
            "spec": {"provider": {"type": "prometheus", "address": "http://in-cluster:9090",
                                  "secretRef": {"name": "prom"}},
                     "query": "sum(x{ns=\"{{ namespace }}\"})"}}


def test_service_defaults_to_the_target_canary(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_URL", "http://from-env:9090")
    plan = plan_check(dict(PARAMS))
    assert 'service=~"test-podinfo-canary-[0-9]+@kubernetescrd"' in plan.query
    assert plan.provider_settings["address"] == "http://from-env:9090"


def test_provider_option_beats_secret_beats_template_beats_environment(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_URL", "http://from-env:9090")
    secret = {"data": {"address": base64.b64encode(b"http://from-secret:9090").decode(),
                       "token": base64.b64encode(b"secret-token").decode()}}
    params = dict(PARAMS, metric=None, template_ref={"name": "errors", "namespace": None})
    plan = plan_check(params, load_template_ref=lambda ns, name: TEMPLATE, read_secret=lambda ns, name: secret)
    assert plan.provider_settings["address"] == "http://from-secret:9090"
    assert plan.provider_settings["bearer_token"] == "secret-token"
    assert plan.query == 'sum(x{ns="test"})' and plan.name == "errors"

    params["provider"] = {"address": "http://explicit:9090", "bearer_token": "mine"}
    plan = plan_check(params, load_template_ref=lambda ns, name: TEMPLATE, read_secret=lambda ns, name: secret)
    assert plan.provider_settings["address"] == "http://explicit:9090"
    assert plan.provider_settings["bearer_token"] == "mine"


def test_template_ref_is_looked_up_in_the_namespace_by_default():
    asked = []
    params = dict(PARAMS, metric=None, template_ref={"name": "errors", "namespace": None})
    secret = {"data": {"token": base64.b64encode(b"t").decode()}}
    plan_check(params, load_template_ref=lambda ns, name: asked.append((ns, name)) or TEMPLATE,
               read_secret=lambda ns, name: secret)
    assert asked == [("test", "errors")]


class FakeProvider(object):
    def __init__(self, outcome):
        self.outcome = outcome

    def run_query(self, promql):
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def _run(outcome, **kwargs):
    plan = plan_check(dict(PARAMS, provider={"address": "http://p:9090"}))
    return run_check(plan, {"min": 99}, provider_factory=lambda **settings: FakeProvider(outcome), **kwargs)


def test_failed_check_is_a_result_not_an_error():
    result = _run(53.4213)
    assert (result["verdict"], result["passed"], result["msg"]) == ("fail", False, "success rate 53.42% < 99%")


def test_no_data_fails_by_default_and_can_be_allowed():
    assert _run(NoData("the query returned no series"))["passed"] is False
    lenient = _run(NoData("the query returned NaN"), fail_on_no_data=False)
    assert lenient["verdict"] == "no_data" and lenient["passed"] is True and lenient["value"] is None
    assert lenient["msg"] == "success rate: no values found (the query returned NaN)"


def test_provider_error_raises_with_verdict_error():
    with pytest.raises(DeliveryError) as err:
        _run(PrometheusError("Prometheus query failed (bad_data): boom"))
    assert err.value.details["verdict"] == "error" and err.value.details["passed"] is False
