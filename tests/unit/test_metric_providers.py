"""The provider interface: the registry, and how a check fails when a template's provider cannot be
used (unreachable, a bad secretRef, no data), always naming the template and the provider."""
import base64

import pytest

from ansible_collections.progressive.delivery.plugins.module_utils.errors import DeliveryError, InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.metrics import plan_check, run_check
from ansible_collections.progressive.delivery.plugins.module_utils.providers.factory import (
    PROVIDERS,
    provider_for,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import (
    MetricProvider,
    NoData,
    ProviderError,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.prometheus import PrometheusProvider


def b64(text):
    return base64.b64encode(text.encode()).decode()


def template(provider, name="errors"):
    return {"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate",
            "metadata": {"name": name, "namespace": "test"},
            "spec": {"provider": provider, "query": 'sum(x{ns="{{ namespace }}"})'}}


def check(template_provider, secret=None, secret_missing=False, **extra):
    params = {"template_ref": {"name": "errors", "namespace": None}, "namespace": "test",
              "target": "podinfo", "interval": "1m", "threshold_range": {"max": 5}, "provider": {}}
    params.update(extra)

    def read_secret(namespace, name):
        if secret_missing:
            raise InvalidInput("Secret {0}/{1} not found".format(namespace, name))
        return {"data": dict((k, b64(v)) for k, v in (secret or {}).items())}

    plan = plan_check(params, load_template_ref=lambda ns, name: template(template_provider),
                      read_secret=read_secret)
    return plan, run_check(plan, params["threshold_range"])


def vector(*values):
    return {"status": "success", "data": {"resultType": "vector",
                                          "result": [{"metric": {}, "value": [1.0, v]} for v in values]}}


def test_every_registered_provider_implements_the_interface_under_its_type():
    assert PROVIDERS["prometheus"] is PrometheusProvider
    for provider_type, cls in PROVIDERS.items():
        assert issubclass(cls, MetricProvider) and cls.type == provider_type
        assert cls.run_query is not MetricProvider.run_query and cls.is_online is not MetricProvider.is_online


def test_factory_builds_the_provider_with_its_interval_and_headers(server):
    prometheus = server(reply=vector("1"))
    provider = provider_for("prometheus", prometheus.url, credentials={"token": "t0k"},
                            headers={"X-Scope-OrgID": "team"}, metric_interval="5m")
    assert provider.metric_interval == "5m"
    assert provider.is_online() is True
    seen = prometheus.requests[0]
    assert seen.headers["Authorization"] == "Bearer t0k" and seen.headers["X-Scope-OrgID"] == "team"


def test_unknown_type_is_refused_with_the_supported_list():
    with pytest.raises(InvalidInput, match=r"uses spec.provider.type 'signalfx'; supported: .*prometheus"):
        provider_for("signalfx", "http://127.0.0.1:9")


def test_template_credentials_reach_the_provider_and_never_the_result(server):
    prometheus = server(reply=vector("2"))
    plan, result = check({"type": "prometheus", "address": prometheus.url, "secretRef": {"name": "prom"}},
                         secret={"username": "u", "password": "s3cret-pass"})
    assert result["passed"] is True and result["value"] == 2.0
    assert prometheus.requests[0].headers["Authorization"] == "Basic " + b64("u:s3cret-pass")
    assert "s3cret-pass" not in repr(result)


def test_template_headers_are_sent_and_module_headers_win(server):
    prometheus = server(reply=vector("1"))
    check({"type": "prometheus", "address": prometheus.url,
           "headers": {"X-Scope-OrgID": ["tenant-a"], "X-Team": ["web"]}},
          provider={"headers": {"X-Team": "ops"}})
    headers = prometheus.requests[0].headers
    assert headers["X-Scope-OrgID"] == "tenant-a" and headers["X-Team"] == "ops"


def test_unreachable_provider_fails_naming_template_and_provider():
    with pytest.raises(DeliveryError) as err:
        check({"type": "prometheus", "address": "http://127.0.0.1:9"})
    assert str(err.value).startswith(
        "MetricTemplate test/errors (provider prometheus): Cannot reach Prometheus at http://127.0.0.1:9")
    assert err.value.details["verdict"] == "error" and err.value.details["passed"] is False


def test_missing_secret_fails_naming_template_provider_and_secret():
    with pytest.raises(InvalidInput) as err:
        check({"type": "prometheus", "address": "http://127.0.0.1:9", "secretRef": {"name": "gone"}},
              secret_missing=True)
    assert str(err.value) == ("MetricTemplate test/errors (provider prometheus): cannot read its secretRef "
                              "Secret test/gone: Secret test/gone not found")


def test_secret_without_a_key_the_provider_reads_fails_naming_the_keys():
    with pytest.raises(InvalidInput) as err:
        check({"type": "prometheus", "address": "http://127.0.0.1:9", "secretRef": {"name": "prom"}},
              secret={"username": "u", "pasword": "typo"})
    message = str(err.value)
    assert message.startswith("MetricTemplate test/errors (provider prometheus): secretRef Secret test/prom "
                              "lacks a key the provider reads")
    assert "token or username and password" in message and "(has: pasword, username)" in message
    assert "typo" not in message


def test_no_data_fails_the_check_naming_template_and_provider(server):
    prometheus = server(reply=vector())
    _plan, result = check({"type": "prometheus", "address": prometheus.url})
    assert (result["verdict"], result["passed"], result["value"]) == ("no_data", False, None)
    assert result["msg"] == ("errors: no values found (MetricTemplate test/errors (provider prometheus): "
                             "the query returned no series)")


def test_provider_error_answer_fails_quoting_the_provider(server):
    prometheus = server(status=502, reply=b"Bad Gateway")
    with pytest.raises(DeliveryError, match=r"^MetricTemplate test/errors \(provider prometheus\): .* answered "
                                            r"HTTP 502 without a Prometheus API response: Bad Gateway"):
        check({"type": "prometheus", "address": prometheus.url})


def test_interface_errors_are_the_shared_ones():
    assert issubclass(ProviderError, DeliveryError)
    assert NoData("nothing").reason == "nothing"
