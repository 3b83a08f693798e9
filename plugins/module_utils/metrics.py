# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One metric gate: choose the query, ask the provider, judge the value.

The module passes its parameters in; reading a MetricTemplate or a Secret from the cluster is
left to callables handed in by the module, so this file needs no API access of its own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.metric_queries import (
    BUILTIN_METRICS,
    builtin_query,
)
from ansible_collections.progressive.delivery.plugins.module_utils.metric_templates import (
    parse_metric_template,
    render_query,
    validate_interval,
)
from ansible_collections.progressive.delivery.plugins.module_utils.names import (
    require_dns_label,
    service_names,
)
from ansible_collections.progressive.delivery.plugins.module_utils.prometheus import (
    DEFAULT_TIMEOUT,
    NoData,
    PrometheusError,
    PrometheusProvider,
)
from ansible_collections.progressive.delivery.plugins.module_utils.thresholds import (
    ERROR,
    NO_DATA,
    PASS,
    judge,
    no_data_message,
    validate_range,
)

PROMETHEUS_URL_ENV = "PROMETHEUS_URL"
# Keys of a MetricTemplate's provider Secret, as Flagger reads them.
SECRET_KEYS = ("address", "token", "username", "password")


class PlannedCheck(object):
    """A fully validated check: the rendered PromQL, its display name and provider settings."""

    def __init__(self, name, query, provider_settings, builtin=None):
        self.name = name
        self.builtin = builtin
        self.query = query
        self.provider_settings = provider_settings


def _context(params):
    """The values of a query's placeholders, with Flagger's defaults.

    As in Flagger, ``{{ service }}`` is the apex Service (``spec.service.name``, defaulting to the
    target's name) and ``{{ ingress }}``/``{{ route }}`` default to the target's name. Built-in
    checks measure the canary Service named after the apex one, unless it is given.
    """
    for field in ("namespace", "target", "service", "canary_service", "ingress", "route"):
        if params.get(field) is not None:
            require_dns_label(field, params[field])
    target = params.get("target")
    service = params.get("service") or target
    canary_service = params.get("canary_service")
    if canary_service is None and service:
        canary_service = service_names(service)["canary"]
    return {
        "name": params.get("canary_name") or target,
        "namespace": params.get("namespace"),
        "target": target,
        "service": service,
        "ingress": params.get("ingress") or target,
        "route": params.get("route") or target,
        "interval": params.get("interval"),
        "compared_service": canary_service,
    }, canary_service


def _decode_secret(secret):
    values = {}
    for key, raw in ((secret or {}).get("data") or {}).items():
        if key in SECRET_KEYS:
            values[key] = base64.b64decode(raw).decode("utf-8").strip()
    return values


def plan_check(params, load_template_ref=None, read_secret=None, load_template_file=None):
    """Validate everything and build the query, without contacting the provider."""
    if not params.get("compare"):
        validate_range(params.get("threshold_range"))
    validate_interval(params.get("interval"))
    context, canary_service = _context(params)
    provider = dict(params.get("provider") or {})
    template = None

    if params.get("metric"):
        metric = params["metric"]
        if metric not in BUILTIN_METRICS:
            raise InvalidInput("metric must be one of {0}; got {1!r}".format(
                ", ".join(BUILTIN_METRICS), metric))
        if not context["namespace"]:
            raise InvalidInput("namespace is required for metric {0}".format(metric))
        if not canary_service:
            raise InvalidInput(
                "canary_service, service or target is required for metric {0}".format(metric))
        query = builtin_query(metric, context["namespace"], canary_service,
                              context["interval"], params.get("port"))
        name = params.get("name") or metric
    elif params.get("query"):
        query = render_query(params["query"], context, params.get("template_variables"))
        name = params.get("name") or "custom query"
    else:
        if params.get("template") is not None:
            manifest = params["template"]
            source = "template"
            if isinstance(manifest, str):
                manifest = load_template_file(manifest)
                source = "template file {0}".format(params["template"])
            template = parse_metric_template(manifest, source)
        elif params.get("template_ref"):
            ref = params["template_ref"]
            ref_namespace = ref.get("namespace") or context["namespace"]
            if not ref_namespace:
                raise InvalidInput("template_ref.namespace or namespace is required")
            require_dns_label("template_ref.name", ref.get("name"))
            require_dns_label("template_ref.namespace", ref_namespace)
            manifest = load_template_ref(ref_namespace, ref["name"])
            template = parse_metric_template(
                manifest, "MetricTemplate {0}/{1}".format(ref_namespace, ref["name"]))
            if template.namespace is None:
                template.namespace = ref_namespace
        else:
            raise InvalidInput("one of metric, query, template or template_ref is required")
        query = render_query(template.query, context, params.get("template_variables"))
        name = params.get("name") or template.name or "metric template"

    settings = _provider_settings(provider, template, read_secret)
    return PlannedCheck(name, query, settings, builtin=params.get("metric"))


def _provider_settings(provider, template, read_secret):
    settings = {
        "address": provider.get("address"),
        "bearer_token": provider.get("bearer_token"),
        "username": provider.get("username"),
        "password": provider.get("password"),
        "ca_cert": provider.get("ca_cert"),
        "validate_certs": provider.get("validate_certs", True),
        "timeout": provider.get("timeout") or DEFAULT_TIMEOUT,
        "headers": provider.get("headers") or {},
    }
    if provider.get("type", "prometheus") != "prometheus":
        raise InvalidInput("provider.type must be prometheus; got {0!r}".format(provider.get("type")))
    if template is not None:
        from_secret = {}
        if template.secret_ref and read_secret is not None:
            from_secret = _decode_secret(read_secret(template.namespace, template.secret_ref["name"]))
        # Explicit module options win over the template, which wins over the environment.
        settings["address"] = settings["address"] or from_secret.get("address") or template.address
        if not (settings["bearer_token"] or settings["username"] or settings["password"]):
            settings["bearer_token"] = from_secret.get("token")
            settings["username"] = from_secret.get("username")
            settings["password"] = from_secret.get("password")
        if template.insecure_skip_verify and provider.get("validate_certs") is None:
            settings["validate_certs"] = False
    settings["address"] = settings["address"] or os.environ.get(PROMETHEUS_URL_ENV)
    if settings["validate_certs"] is None:
        settings["validate_certs"] = True
    return settings


def run_check(plan, threshold_range, fail_on_no_data=True, provider_factory=PrometheusProvider):
    """Query the provider and judge the value. Returns the module's result dict.

    A provider error is raised as DeliveryError carrying ``verdict: error`` so the module fails
    with Prometheus's own message.
    """
    provider = provider_factory(**plan.provider_settings)
    result = {
        "changed": False,
        "metric": plan.name,
        "query": plan.query,
        "threshold_range": dict((k, v) for k, v in (threshold_range or {}).items() if v is not None),
    }
    try:
        value = provider.query(plan.query)
    except NoData as exc:
        result.update(value=None, verdict=NO_DATA, passed=not fail_on_no_data,
                      msg=no_data_message(plan.builtin or plan.name, exc.reason))
        return result
    except PrometheusError as exc:
        raise DeliveryError(str(exc), verdict=ERROR, passed=False, value=None, query=plan.query,
                            metric=plan.name)
    # Built-in checks keep Flagger's wording ("success rate 99.10% ...") whatever their name.
    verdict, message = judge(plan.builtin or plan.name, value, threshold_range)
    result.update(value=value, verdict=verdict, passed=verdict == PASS, msg=message)
    return result
