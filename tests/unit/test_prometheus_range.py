"""Parsing Prometheus's range-query answers for the comparison check."""
import pytest

from ansible_collections.progressive.delivery.plugins.module_utils.providers.prometheus import (
    NoData,
    PrometheusError,
    parse_range_response,
)


def matrix(*series):
    return {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {}, "values": values} for values in series]}}


def test_the_values_of_the_one_series_come_back_in_time_order_without_nan():
    body = matrix([[100, "1.5"], [101, "NaN"], [102, "2"], [103, "+Inf"], [104, "0.25"]])

    assert parse_range_response(200, body, "") == [1.5, 2.0, 0.25]


def test_no_series_or_only_nan_is_no_data():
    with pytest.raises(NoData, match="no series"):
        parse_range_response(200, matrix(), "")
    with pytest.raises(NoData, match="no finite values"):
        parse_range_response(200, matrix([[100, "NaN"], [101, "NaN"]]), "")


def test_several_series_ask_for_aggregation():
    with pytest.raises(PrometheusError, match="returned 2 series, expected one"):
        parse_range_response(200, matrix([[1, "1"]], [[1, "2"]]), "")


def test_an_instant_answer_is_not_a_range():
    body = {"status": "success", "data": {"resultType": "vector", "result": []}}
    with pytest.raises(PrometheusError, match="returned a vector, expected a range vector"):
        parse_range_response(200, body, "")


def test_prometheus_errors_keep_prometheus_message():
    body = {"status": "error", "errorType": "bad_data", "error": "exceeded maximum resolution"}
    with pytest.raises(PrometheusError, match=r"\(bad_data\): exceeded maximum resolution"):
        parse_range_response(400, body, "")
