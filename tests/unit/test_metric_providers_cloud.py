"""Flagger's cloud providers and our JSON provider, each against a local HTTP server that records the
request (path, headers, parameters, body) and answers with the shape the service documents.

The services themselves cannot run here; what is proven is that the request is the documented one
and that the documented answers (a value, no data, an error) are read as such.
"""
import base64
import datetime
import json
import time
from urllib.parse import parse_qsl

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ansible_collections.progressive.delivery.plugins.module_utils.errors import DeliveryError, InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.metrics import plan_check, run_check
from ansible_collections.progressive.delivery.plugins.module_utils.providers.factory import provider_for
from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import NoData, ProviderError
from ansible_collections.progressive.delivery.plugins.module_utils.providers.cloudwatch import sigv4_headers


def window_ends(call):
    """Run ``call`` and return (result, earliest, latest) possible 'now' in whole seconds."""
    before = int(time.time())
    result = call()
    return result, before, int(time.time()) + 1


# --- Datadog ---------------------------------------------------------------------------------

DD_KEYS = {"datadog_api_key": "api-123", "datadog_application_key": "app-456"}


def test_datadog_sends_the_keys_and_ten_intervals_and_reads_the_first_point(server):
    datadog = server(reply={"status": "ok", "series": [{"pointlist": [[1700000000000.0, 0.75], [1700000060000.0, 9.0]]}]})
    provider = provider_for("datadog", datadog.url, credentials=DD_KEYS, metric_interval="2m")
    value, earliest, latest = window_ends(lambda: provider.run_query("sum:trace.errors{env:prod}"))
    assert value == 0.75
    seen = datadog.requests[0]
    assert (seen.method, seen.url_path) == ("GET", "/api/v1/query")
    assert seen.headers["DD-API-KEY"] == "api-123" and seen.headers["DD-APPLICATION-KEY"] == "app-456"
    params = seen.params()
    assert params["query"] == "sum:trace.errors{env:prod}"
    assert earliest <= int(params["to"]) <= latest and int(params["to"]) - int(params["from"]) == 1200


def test_datadog_without_series_is_no_data_and_a_refusal_is_an_error(server):
    with pytest.raises(NoData):
        provider_for("datadog", server(reply={"series": []}).url, credentials=DD_KEYS).run_query("x")
    refused = server(status=403, reply={"errors": ["Forbidden"]})
    with pytest.raises(ProviderError, match=r'^Datadog at http://127.0.0.1:\d+ answered HTTP 403: .*Forbidden'):
        provider_for("datadog", refused.url, credentials=DD_KEYS).run_query("x")


def test_datadog_is_online_asks_the_validate_endpoint(server):
    datadog = server(reply={"valid": True})
    assert provider_for("datadog", datadog.url, credentials=DD_KEYS).is_online() is True
    assert datadog.requests[0].url_path == "/api/v1/validate"
    assert datadog.requests[0].headers["DD-API-KEY"] == "api-123"


def test_datadog_template_without_its_keys_is_refused_before_any_query():
    params = {"template": {"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate",
                           "metadata": {"name": "dd-errors", "namespace": "shop"},
                           "spec": {"provider": {"type": "datadog", "secretRef": {"name": "dd"}},
                                    "query": "sum:errors{service:{{ target }}}"}},
              "namespace": "shop", "target": "cart", "interval": "1m", "threshold_range": {"max": 1}}
    secret = {"data": {"datadog_api_key": base64.b64encode(b"k").decode()}}
    with pytest.raises(InvalidInput) as err:
        plan_check(params, read_secret=lambda ns, name: secret)
    assert str(err.value).startswith("MetricTemplate shop/dd-errors (provider datadog): secretRef Secret shop/dd "
                                     "lacks a key the provider reads; it needs the keys datadog_api_key and "
                                     "datadog_application_key")


@pytest.mark.parametrize("provider_type, key", [("dynatrace", "dynatrace_token"), ("splunk", "sf_token_key")])
def test_a_provider_whose_key_goes_in_a_header_needs_a_secret_with_that_key(provider_type, key):
    # The key a provider sends in its header is the one its Secret must hold, and without a
    # secretRef the template is refused, naming that key.
    params = {"template": {"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate",
                           "metadata": {"name": "errors", "namespace": "shop"},
                           "spec": {"provider": {"type": provider_type, "address": "https://example.invalid"},
                                    "query": "errors"}},
              "namespace": "shop", "target": "cart", "interval": "1m", "threshold_range": {"max": 1}}
    with pytest.raises(InvalidInput) as err:
        plan_check(params, read_secret=lambda ns, name: {})
    assert str(err.value) == "MetricTemplate shop/errors (provider {0}) needs spec.provider.secretRef: it needs the key {1}".format(
        provider_type, key)
    with pytest.raises(InvalidInput) as err:
        provider_for(provider_type, "https://example.invalid", credentials={"other": "x"})
    assert str(err.value) == "the {0} provider's credentials are incomplete: it needs the key {1}".format(provider_type, key)


def test_datadog_template_gates_a_check_end_to_end(server):
    datadog = server(reply={"series": [{"pointlist": [[1.0, 3.5]]}]})
    params = {"template": {"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate",
                           "metadata": {"name": "dd-errors", "namespace": "shop"},
                           "spec": {"provider": {"type": "datadog", "address": datadog.url,
                                                 "secretRef": {"name": "dd"}},
                                    "query": "sum:errors{service:{{ target }}}"}},
              "namespace": "shop", "target": "cart", "interval": "1m", "threshold_range": {"max": 1}}
    secret = {"data": dict((k, base64.b64encode(v.encode()).decode()) for k, v in DD_KEYS.items())}
    result = run_check(plan_check(params, read_secret=lambda ns, name: secret), params["threshold_range"])
    assert (result["verdict"], result["value"], result["passed"]) == ("fail", 3.5, False)
    assert datadog.requests[0].params()["query"] == "sum:errors{service:cart}"
    assert "api-123" not in repr(result)


# --- New Relic -------------------------------------------------------------------------------

NR_KEYS = {"newrelic_account_id": "100", "newrelic_query_key": "nrq-secret"}


def test_newrelic_sends_nrql_since_the_interval_with_the_query_key(server):
    newrelic = server(reply={"results": [{"result": 1.25}]})
    provider = provider_for("newrelic", newrelic.url, credentials=NR_KEYS, metric_interval="5m")
    assert provider.run_query("SELECT percentage(count(*), WHERE httpResponseCode >= 500) FROM Transaction") == 1.25
    seen = newrelic.requests[0]
    assert (seen.method, seen.url_path) == ("GET", "/v1/accounts/100/query")
    assert seen.headers["X-Query-Key"] == "nrq-secret"
    assert seen.params()["nrql"] == ("SELECT percentage(count(*), WHERE httpResponseCode >= 500) FROM Transaction "
                                     "SINCE 300 seconds ago")


@pytest.mark.parametrize("reply", [{"results": []}, {"results": [{"result": None}]}])
def test_newrelic_without_a_result_is_no_data(server, reply):
    with pytest.raises(NoData):
        provider_for("newrelic", server(reply=reply).url, credentials=NR_KEYS).run_query("SELECT 1")


def test_newrelic_error_answer_is_an_error(server):
    newrelic = server(status=400, reply={"error": "NRQL Syntax Error: Error at line 1 position 7"})
    with pytest.raises(ProviderError, match="New Relic at .* answered HTTP 400: .*NRQL Syntax Error"):
        provider_for("newrelic", newrelic.url, credentials=NR_KEYS).run_query("SELEC 1")


# --- Dynatrace -------------------------------------------------------------------------------

def test_dynatrace_sends_the_api_token_and_window_and_reads_the_last_entry(server):
    dynatrace = server(reply={"totalCount": 2, "result": [{"metricId": "builtin:service.errors.total.rate",
                                                           "data": [{"values": [8.0]}, {"values": [0.5]}]}]})
    provider = provider_for("dynatrace", dynatrace.url, credentials={"dynatrace_token": "dt0c01.abc"})
    value, earliest, latest = window_ends(lambda: provider.run_query("builtin:service.errors.total.rate"))
    assert value == 0.5
    seen = dynatrace.requests[0]
    assert (seen.method, seen.url_path) == ("GET", "/api/v2/metrics/query")
    assert seen.headers["Authorization"] == "Api-Token dt0c01.abc"
    params = seen.params()
    assert params["metricSelector"] == "builtin:service.errors.total.rate" and params["resolution"] == "Inf"
    assert earliest * 1000 <= int(params["to"]) <= latest * 1000
    assert int(params["to"]) - int(params["from"]) == 600000


def test_dynatrace_without_values_is_no_data_and_needs_an_address(server):
    empty = server(reply={"totalCount": 0, "result": []})
    with pytest.raises(NoData):
        provider_for("dynatrace", empty.url, credentials={"dynatrace_token": "t"}).run_query("m")
    with pytest.raises(InvalidInput, match="dynatrace provider needs spec.provider.address"):
        provider_for("dynatrace", None, credentials={"dynatrace_token": "t"})


# --- Google Cloud Monitoring (stackdriver) -------------------------------------------------

@pytest.fixture(scope="module")
def rsa_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return key, pem


def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def google_answers(request):
    if request.url_path == "/token":
        return {"access_token": "ya29.local", "expires_in": 3599, "token_type": "Bearer"}
    return {"timeSeriesDescriptor": {"pointDescriptors": [{"key": "value", "valueType": "DOUBLE"}]},
            "timeSeriesData": [{"labelValues": [{"stringValue": "cart"}],
                                "pointData": [{"values": [{"doubleValue": 0.02}],
                                               "timeInterval": {"endTime": "2026-01-01T00:01:00Z"}}]}]}


def test_stackdriver_exchanges_a_signed_jwt_and_queries_mql(server, rsa_key):
    key, pem = rsa_key
    google = server(reply=google_answers)
    account = {"type": "service_account", "client_email": "flagger@proj.iam.gserviceaccount.com",
               "private_key_id": "kid1", "private_key": pem, "token_uri": google.url + "/token"}
    provider = provider_for("stackdriver", google.url,
                            credentials={"project": "proj", "serviceAccountKey": json.dumps(account)})
    mql = "fetch k8s_container | metric 'istio.io/service/server/request_count' | within 1m"
    assert provider.run_query(mql) == 0.02

    token_request, query_request = google.requests
    form = dict(parse_qsl(token_request.body.decode()))
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    header, claims, signature = form["assertion"].split(".")
    key.public_key().verify(b64url_decode(signature), (header + "." + claims).encode(), padding.PKCS1v15(),
                            hashes.SHA256())
    claims = json.loads(b64url_decode(claims))
    assert json.loads(b64url_decode(header)) == {"alg": "RS256", "typ": "JWT", "kid": "kid1"}
    assert claims["iss"] == "flagger@proj.iam.gserviceaccount.com" and claims["aud"] == google.url + "/token"
    assert claims["scope"] == "https://www.googleapis.com/auth/monitoring.read"
    assert (query_request.method, query_request.url_path) == ("POST", "/v3/projects/proj/timeSeries:query")
    assert query_request.headers["Authorization"] == "Bearer ya29.local"
    assert query_request.json() == {"query": mql}


def test_stackdriver_empty_answer_is_no_data(server, rsa_key):
    google = server(reply=lambda request: google_answers(request) if request.url_path == "/token" else {})
    account = {"client_email": "a@b", "private_key": rsa_key[1], "token_uri": google.url + "/token"}
    provider = provider_for("stackdriver", google.url,
                            credentials={"project": "p", "serviceAccountKey": json.dumps(account)})
    with pytest.raises(NoData):
        provider.run_query("fetch x")


def test_stackdriver_key_that_is_not_a_service_account_key_is_refused_without_quoting_it():
    with pytest.raises(InvalidInput) as err:
        provider_for("stackdriver", None, credentials={"project": "p", "serviceAccountKey": "hunter2"})
    assert "serviceAccountKey must be a service account's JSON key" in str(err.value)
    assert "hunter2" not in str(err.value)


# --- CloudWatch ------------------------------------------------------------------------------

def test_sigv4_matches_the_aws_documented_example():
    # The GET ListUsers example of the AWS Signature Version 4 documentation.
    headers = sigv4_headers("GET", "iam", "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None,
                            "us-east-1", "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", "",
                            datetime.datetime(2015, 8, 30, 12, 36, 0, tzinfo=datetime.timezone.utc))
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")


CW_QUERY = json.dumps([{"Id": "errors", "MetricStat": {
    "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "HTTPCode_Target_5XX_Count",
               "Dimensions": [{"Name": "LoadBalancer", "Value": "app/cart/123"}]},
    "Period": 60, "Stat": "Sum"}, "ReturnData": True}])

CW_ANSWER = (b'<GetMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">'
             b'<GetMetricDataResult><MetricDataResults><member><Id>errors</Id><Label>errors</Label>'
             b'<StatusCode>Complete</StatusCode><Timestamps><member>2026-01-01T00:01:00Z</member></Timestamps>'
             b'<Values><member>4.0</member><member>1.0</member></Values></member></MetricDataResults>'
             b'</GetMetricDataResult></GetMetricDataResponse>')


def cloudwatch(url, **credentials):
    provider = provider_for("cloudwatch", url, credentials=credentials or
                            {"aws_access_key_id": "AKIDLOCAL", "aws_secret_access_key": "s3cr3t"},
                            metric_interval="1m", region="eu-west-1")
    return provider


def test_cloudwatch_posts_a_signed_get_metric_data_and_reads_the_first_value(server):
    aws = server(reply=CW_ANSWER)
    value, earliest, latest = window_ends(lambda: cloudwatch(aws.url).run_query(CW_QUERY))
    assert value == 4.0
    seen = aws.requests[0]
    form = dict(parse_qsl(seen.body.decode()))
    assert (seen.method, seen.url_path) == ("POST", "/")
    assert form["Action"] == "GetMetricData" and form["Version"] == "2010-08-01"
    assert form["MetricDataQueries.member.1.Id"] == "errors"
    assert form["MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Value"] == "app/cart/123"
    assert form["MetricDataQueries.member.1.ReturnData"] == "true" and form["MaxDatapoints"] == "20"
    end = datetime.datetime.strptime(form["EndTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    start = datetime.datetime.strptime(form["StartTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    assert earliest <= end.timestamp() <= latest and (end - start).total_seconds() == 600
    headers = dict((name.lower(), value) for name, value in seen.headers.items())
    assert headers["authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDLOCAL/{0}/eu-west-1/monitoring/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, Signature=".format(form["EndTime"][:10].replace("-", "")))


def test_cloudwatch_without_values_is_no_data_and_its_error_is_quoted(server):
    empty = server(reply=CW_ANSWER.replace(b"<member>4.0</member><member>1.0</member>", b""))
    with pytest.raises(NoData):
        cloudwatch(empty.url).run_query(CW_QUERY)
    denied = server(status=403, reply=b'<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>'
                                      b'<Message>The request signature we calculated does not match</Message>'
                                      b'</Error></ErrorResponse>')
    with pytest.raises(ProviderError, match="CloudWatch at .* answered HTTP 403: SignatureDoesNotMatch: The request"):
        cloudwatch(denied.url).run_query(CW_QUERY)


def test_cloudwatch_needs_a_region_and_keys(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(InvalidInput, match="needs spec.provider.region"):
        provider_for("cloudwatch", None, credentials={"aws_access_key_id": "a", "aws_secret_access_key": "b"}
                     ).run_query(CW_QUERY)
    with pytest.raises(InvalidInput, match="needs AWS keys"):
        provider_for("cloudwatch", None, region="us-east-1").run_query(CW_QUERY)


# --- errors common to every provider --------------------------------------------------------

@pytest.mark.parametrize("provider_type, credentials", [
    ("datadog", DD_KEYS), ("newrelic", NR_KEYS), ("dynatrace", {"dynatrace_token": "t"})])
def test_unreachable_cloud_provider_is_an_error_naming_it(provider_type, credentials):
    with pytest.raises(ProviderError, match="Cannot reach .* at http://127.0.0.1:9"):
        provider_for(provider_type, "http://127.0.0.1:9", credentials=credentials, timeout=2).run_query("q")


def test_template_no_data_from_a_cloud_provider_fails_the_check_naming_both(server):
    datadog = server(reply={"series": []})
    params = {"template": {"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate",
                           "metadata": {"name": "dd-latency", "namespace": "shop"},
                           "spec": {"provider": {"type": "datadog", "address": datadog.url,
                                                 "secretRef": {"name": "dd"}}, "query": "avg:latency{*}"}},
              "namespace": "shop", "interval": "1m", "threshold_range": {"max": 1}}
    secret = {"data": dict((k, base64.b64encode(v.encode()).decode()) for k, v in DD_KEYS.items())}
    result = run_check(plan_check(params, read_secret=lambda ns, name: secret), params["threshold_range"])
    assert result["passed"] is False and result["verdict"] == "no_data"
    assert "MetricTemplate shop/dd-latency (provider datadog)" in result["msg"]
    with pytest.raises(DeliveryError, match=r"^MetricTemplate shop/dd-latency \(provider datadog\): Cannot reach"):
        params["template"]["spec"]["provider"]["address"] = "http://127.0.0.1:9"
        run_check(plan_check(params, read_secret=lambda ns, name: secret), params["threshold_range"])


# --- Splunk Observability (SignalFlow over HTTP) ---------------------------------------------

SF_STREAM = (
    'event: control-message\ndata: {"type": "control-message", "event": "STREAM_START", "timestampMs": 1}\n\n'
    'event: metadata\ndata: {"type": "metadata", "tsId": "AAAAAKnRsdM", "properties": {"sf_metric": "errors"}}\n\n'
    'event: data\ndata: {"type": "data", "logicalTimestampMs": 1000,\n'
    'data:  "data": [{"tsId": "AAAAAKnRsdM", "value": 2.5}]}\n\n'
    'event: data\ndata: {"type": "data", "logicalTimestampMs": 2000, "data": [{"tsId": "AAAAAKnRsdM", "value": null}]}\n\n'
    'event: data\ndata: {"type": "data", "logicalTimestampMs": 3000, "data": [{"tsId": "AAAAAKnRsdM", "value": 1.5}]}\n\n'
    'event: control-message\ndata: {"type": "control-message", "event": "END_OF_CHANNEL", "timestampMs": 4}\n\n')


def test_splunk_posts_the_program_with_the_token_and_window_and_reads_the_last_value(server):
    splunk = server(reply=SF_STREAM.encode())
    provider = provider_for("splunk", splunk.url, credentials={"sf_token_key": "sf-tok"}, metric_interval="30s")
    program = "data('errors', filter=filter('service', 'cart')).sum().publish()"
    value, earliest, latest = window_ends(lambda: provider.run_query(program))
    assert value == 1.5
    seen = splunk.requests[0]
    assert (seen.method, seen.url_path) == ("POST", "/v2/signalflow/execute")
    assert seen.headers["X-SF-Token"] == "sf-tok" and seen.body.decode() == program
    params = seen.params()
    assert params["immediate"] == "true" and earliest * 1000 <= int(params["stop"]) <= latest * 1000
    assert int(params["stop"]) - int(params["start"]) == 300000


def test_splunk_no_points_is_no_data_and_two_series_or_an_error_message_are_errors(server):
    end = 'event: control-message\ndata: {"type": "control-message", "event": "END_OF_CHANNEL"}\n\n'
    with pytest.raises(NoData):
        provider_for("splunk", server(reply=end.encode()).url, credentials={"sf_token_key": "t"}).run_query("p")
    two = ('event: data\ndata: {"type": "data", "data": [{"tsId": "A", "value": 1}, {"tsId": "B", "value": 2}]}\n\n')
    with pytest.raises(ProviderError, match="values of 2 time series, expected one"):
        provider_for("splunk", server(reply=two.encode()).url, credentials={"sf_token_key": "t"}).run_query("p")
    failed = 'event: error\ndata: {"type": "error", "message": "Syntax error at line 1"}\n\n'
    with pytest.raises(ProviderError, match="SignalFlow error: Syntax error at line 1"):
        provider_for("splunk", server(reply=failed.encode()).url, credentials={"sf_token_key": "t"}).run_query("p")


def test_splunk_asks_the_stream_host_of_an_api_address():
    provider = provider_for("splunk", "https://api.us1.signalfx.com", credentials={"sf_token_key": "t"})
    assert provider.stream_address == "https://stream.us1.signalfx.com"


# --- Keptn (KeptnMetric objects read from the Kubernetes API) ---------------------------------

def keptn(objects):
    asked = []

    def read_object(api_version, kind, namespace, name):
        asked.append((api_version, kind, namespace, name))
        return objects.get((namespace, name))

    return provider_for("keptn", None, read_object=read_object), asked


def test_keptn_reads_the_status_value_of_the_named_keptn_metric():
    provider, asked = keptn({("shop", "cart-errors"): {"status": {"value": "0.25", "rawValue": "MC4yNQ=="}}})
    assert provider.run_query("keptnmetric/shop/cart-errors\n") == 0.25
    assert asked == [("metrics.keptn.sh/v1beta1", "KeptnMetric", "shop", "cart-errors")]


def test_keptn_metric_without_a_value_is_no_data_and_a_missing_one_is_an_error():
    provider, _asked = keptn({("shop", "fresh"): {"status": {}}})
    with pytest.raises(NoData, match="KeptnMetric shop/fresh has no status.value"):
        provider.run_query("keptnmetric/shop/fresh")
    with pytest.raises(ProviderError, match="has no KeptnMetric shop/gone"):
        provider.run_query("keptnmetric/shop/gone")


@pytest.mark.parametrize("query, message", [
    ("analysis/shop/definition/1m/a=b", "keptn analysis queries .* are not supported"),
    ("shop/cart-errors", "must be keptnmetric/<namespace>/<name>"),
])
def test_keptn_queries_other_than_keptnmetric_are_refused(query, message):
    provider, asked = keptn({})
    with pytest.raises(InvalidInput, match=message):
        provider.run_query(query)
    assert asked == []
