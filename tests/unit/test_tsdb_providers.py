"""InfluxDB (InfluxQL and Flux) and Graphite (render API) answers turned into one number, and the
requests the providers send, checked by a local HTTP server that records them."""
import base64
from urllib.parse import parse_qsl, urlsplit

import pytest

from ansible_collections.progressive.delivery.plugins.module_utils.errors import InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.providers.factory import PROVIDERS
from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import (
    NoData,
    ProviderError,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.graphite import (
    GraphiteProvider,
    last_datapoint,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.influxdb import (
    InfluxDBProvider,
    parse_flux_csv,
    parse_influxql_response,
)


def influx_answer(*series, error=None):
    result = {"statement_id": 0}
    if error:
        result["error"] = error
    if series:
        result["series"] = list(series)
    return {"results": [result]}


def test_both_types_are_registered():
    assert PROVIDERS["influxdb"] is InfluxDBProvider
    assert PROVIDERS["graphite"] is GraphiteProvider


def test_influxql_value_is_the_last_non_null_of_the_first_value_column():
    body = influx_answer({"name": "requests", "columns": ["time", "errors", "requests"],
                          "values": [[1, 2.5, 10], [2, 7, 20], [3, None, 30]]})
    assert parse_influxql_response(200, body) == 7.0


@pytest.mark.parametrize("body, reason", [
    (influx_answer(), "no series"),
    (influx_answer({"name": "r", "columns": ["time", "v"], "values": [[1, None]]}), "only null"),
])
def test_influxql_without_a_value_is_no_data(body, reason):
    with pytest.raises(NoData) as caught:
        parse_influxql_response(200, body)
    assert reason in caught.value.reason


def test_influxql_statement_error_is_quoted():
    with pytest.raises(ProviderError, match="query failed: database not found: nope"):
        parse_influxql_response(200, influx_answer(error="database not found: nope"))


def test_influxql_grouped_series_are_refused():
    series = {"name": "r", "columns": ["time", "v"], "values": [[1, 1]]}
    with pytest.raises(ProviderError, match="returned 2 series, expected one"):
        parse_influxql_response(200, influx_answer(series, dict(series, tags={"a": "b"})))


def test_influxql_two_statements_are_refused():
    body = {"results": [influx_answer()["results"][0], influx_answer()["results"][0]]}
    with pytest.raises(ProviderError, match="2 statements"):
        parse_influxql_response(200, body)


def test_graphite_value_is_the_last_non_null_datapoint_across_series():
    body = [{"target": "a", "datapoints": [[1.0, 10], [None, 11], ["3.5", 12], [None, 13]]},
            {"target": "b", "datapoints": [[None, 10]]}]
    assert last_datapoint(body) == 3.5


@pytest.mark.parametrize("body", [[], [{"target": "a", "datapoints": [[None, 1], [None, 2]]}]])
def test_graphite_without_a_value_is_no_data(body):
    with pytest.raises(NoData):
        last_datapoint(body)


def test_graphite_answer_that_is_not_series_is_an_error():
    with pytest.raises(ProviderError, match="not a list of series"):
        last_datapoint({"error": "x"})


def basic(user, password):
    return "Basic " + base64.b64encode("{0}:{1}".format(user, password).encode()).decode()


def test_graphite_request_is_a_render_get_with_json_format_and_basic_auth(server):
    srv = server(status=200, reply=[{"target": "x", "datapoints": [[42, 1], [None, 2]]}])
    provider = GraphiteProvider(srv.url + "/graphite", {"username": "u", "password": "p"})

    value = provider.run_query("target=sumSeries(app.*.errors)\n  &from=-1min&until=now&format=png")

    assert value == 42.0
    request = srv.requests[0]
    path, headers = request.path, request.headers
    parts = urlsplit(path)
    assert parts.path == "/graphite/render"
    assert parse_qsl(parts.query) == [("target", "sumSeries(app.*.errors)"), ("from", "-1min"),
                                      ("until", "now"), ("format", "json")]
    assert headers["Authorization"] == basic("u", "p")


def test_graphite_error_answer_is_quoted(server):
    srv = server(status=400, reply=b"Invalid target: no such function\n")
    with pytest.raises(ProviderError, match="HTTP 400: Invalid target: no such function"):
        GraphiteProvider(srv.url).run_query("target=nosuch(a)")


def test_graphite_query_without_target_is_refused_before_any_request(server):
    srv = server(status=200, reply=[])
    with pytest.raises(ProviderError, match="at least one target"):
        GraphiteProvider(srv.url).run_query("from=-1min")
    assert srv.requests == []


def test_influxql_request_keeps_the_address_parameters_and_sends_basic_auth(server):
    srv = server(status=200, reply=influx_answer({"name": "r", "columns": ["time", "v"], "values": [[1, 3]]}))
    provider = InfluxDBProvider(srv.url + "?db=traefik&rp=autogen",
                                {"username": "reader", "password": "s3cret"})

    assert provider.run_query('SELECT sum("errors")\n  FROM "r"') == 3.0

    request = srv.requests[0]
    path, headers = request.path, request.headers
    parts = urlsplit(path)
    assert parts.path == "/query"
    assert parse_qsl(parts.query) == [("db", "traefik"), ("rp", "autogen"),
                                      ("q", 'SELECT sum("errors") FROM "r"'), ("epoch", "s")]
    assert headers["Authorization"] == basic("reader", "s3cret")
    assert "s3cret" not in provider.name


def test_influxdb_refusal_quotes_its_error(server):
    srv = server(status=401, reply={"error": "authorization failed"})
    with pytest.raises(ProviderError, match=r"refused the query \(HTTP 401\): authorization failed"):
        InfluxDBProvider(srv.url).run_query("SELECT 1")


# An answer in the annotated CSV that InfluxDB 2.x's query API documents.
FLUX_ANSWER = (
    "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,double,string\r\n"
    "#group,false,false,true,true,false,true\r\n"
    "#default,_result,,,,,\r\n"
    ",result,table,_start,_stop,_value,_field\r\n"
    ",,0,2026-01-01T00:00:00Z,2026-01-01T00:01:00Z,1.25,errors\r\n"
    ",,1,2026-01-01T00:00:00Z,2026-01-01T00:01:00Z,9,errors\r\n"
    "\r\n")


def test_flux_value_is_the_first_records_value():
    assert parse_flux_csv(FLUX_ANSWER) == 1.25


def test_flux_answer_without_records_is_no_data():
    with pytest.raises(NoData, match="no records"):
        parse_flux_csv("\r\n")


def test_flux_error_table_is_quoted():
    answer = "#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n,error,reference\r\n,bucket not found,\r\n"
    with pytest.raises(ProviderError, match="Flux query failed: bucket not found"):
        parse_flux_csv(answer)


def test_flux_string_value_is_an_error():
    answer = FLUX_ANSWER.replace("double,string", "string,string").replace("1.25", "abc")
    with pytest.raises(ProviderError, match="not a number"):
        parse_flux_csv(answer)


def test_flux_query_goes_to_the_2x_query_api_with_token_and_org(server):
    srv = server(status=200, reply=FLUX_ANSWER.encode())
    provider = InfluxDBProvider(srv.url, {"token": "t0ken", "org": "acme"})
    query = 'from(bucket: "traefik") |> range(start: -1m) |> sum()'

    assert provider.run_query(query) == 1.25

    request = srv.requests[0]
    path, headers = request.path, request.headers
    parts = urlsplit(path)
    assert parts.path == "/api/v2/query"
    assert parse_qsl(parts.query) == [("org", "acme")]
    assert headers["Authorization"] == "Token t0ken"
    sent = request.json()
    assert sent["query"] == query and sent["type"] == "flux"
    assert sent["dialect"]["annotations"] == ["datatype", "group", "default"]


def test_flux_refusal_quotes_the_message(server):
    srv = server(status=401, reply={"code": "unauthorized", "message": "unauthorized access"})
    with pytest.raises(ProviderError, match=r"refused the Flux query \(HTTP 401\): unauthorized access"):
        InfluxDBProvider(srv.url, {"token": "x", "org": "o"}).run_query("from(bucket: \"b\") |> last()")


@pytest.mark.parametrize("cls", [InfluxDBProvider, GraphiteProvider])
def test_address_must_be_an_http_url(cls):
    with pytest.raises(InvalidInput, match="spec.provider.address"):
        cls("influxdb:8086")
