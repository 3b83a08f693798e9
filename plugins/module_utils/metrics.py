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
import dataclasses
import os
import typing

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
from ansible_collections.progressive.delivery.plugins.module_utils.providers.factory import (
    provider_class,
    provider_for,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import (
    DEFAULT_TIMEOUT,
    NoData,
    ProviderError,
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


@dataclasses.dataclass(eq=False)
class PlannedCheck:
    """A fully validated check: the rendered query, its display name and provider settings.

    ``builtin`` is the built-in metric it measures (None for a query or a template); ``source``
    names the MetricTemplate and its provider for messages (None without a template).
    """

    name: str
    query: str
    provider_settings: dict
    builtin: typing.Optional[str] = None
    source: typing.Optional[str] = None


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


def _decode_secret(secret, where):
    values = {}
    for key, raw in ((secret or {}).get("data") or {}).items():
        try:
            values[key] = base64.b64decode(raw).decode("utf-8").strip()
        except (TypeError, ValueError):
            raise InvalidInput("{0}: key {1} is not base64-encoded UTF-8 text".format(where, key))
    return values


def template_source(template):
    """How messages name a MetricTemplate and its provider."""
    where = "/".join(part for part in (template.namespace, template.name) if part)
    return "MetricTemplate {0} (provider {1})".format(where or "(unnamed)", template.provider_type)


def plan_check(params, load_template_ref=None, read_secret=None, load_template_file=None,
               read_object=None):
    """Validate everything and build the query, without contacting the provider.

    ``read_object(api_version, kind, namespace, name)`` reads a Kubernetes object for the
    providers that query the cluster (Keptn).
    """
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
    settings["metric_interval"] = context["interval"]
    settings["read_object"] = read_object
    return PlannedCheck(name, query, settings, builtin=params.get("metric"),
                        source=template_source(template) if template is not None else None)


def _template_credentials(template, read_secret):
    """The decoded secretRef Secret of ``template`` ({} without one), checked against what its
    provider needs; every problem names the template, its provider and the Secret."""
    source = template_source(template)
    cls = provider_class(template.provider_type, source)
    if not template.secret_ref:
        credentials = {}
        if cls.missing_credentials(credentials) and cls.needs_secret():
            raise InvalidInput("{0} needs spec.provider.secretRef: {1}".format(
                source, cls.missing_credentials(credentials)))
        return credentials
    secret_name = "{0}/{1}".format(template.namespace, template.secret_ref["name"])
    try:
        secret = read_secret(template.namespace, template.secret_ref["name"])
    except InvalidInput as exc:
        raise InvalidInput("{0}: cannot read its secretRef Secret {1}: {2}".format(
            source, secret_name, exc))
    credentials = _decode_secret(secret, "{0}: secretRef Secret {1}".format(source, secret_name))
    missing = cls.missing_credentials(credentials)
    if missing:
        raise InvalidInput("{0}: secretRef Secret {1} lacks a key the provider reads; {2} "
                           "(has: {3})".format(source, secret_name, missing,
                                               ", ".join(sorted(credentials)) or "no keys"))
    return credentials


def _provider_settings(provider, template, read_secret):
    settings = {
        "type": "prometheus",
        "credentials": {},
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
        settings["type"] = template.provider_type
        settings["region"] = template.region
        if read_secret is not None:
            from_secret = _template_credentials(template, read_secret)
        settings["credentials"] = from_secret
        settings["headers"] = dict(template.headers or {}, **settings["headers"])
        # Explicit module options win over the template, which wins over the environment.
        settings["address"] = settings["address"] or from_secret.get("address") or template.address
        if not (settings["bearer_token"] or settings["username"] or settings["password"]):
            settings["bearer_token"] = from_secret.get("token")
            settings["username"] = from_secret.get("username")
            settings["password"] = from_secret.get("password")
        if template.insecure_skip_verify and provider.get("validate_certs") is None:
            settings["validate_certs"] = False
    if settings["type"] == "prometheus":
        settings["address"] = settings["address"] or os.environ.get(PROMETHEUS_URL_ENV)
    if settings["validate_certs"] is None:
        settings["validate_certs"] = True
    return settings


def build_provider(type="prometheus", address=None, credentials=None, bearer_token=None,
                   username=None, password=None, ca_cert=None, validate_certs=True,
                   timeout=DEFAULT_TIMEOUT, headers=None, metric_interval=None, region=None,
                   read_object=None):
    """The provider the planned settings describe.

    Prometheus takes the credentials already resolved against the module's own options; the
    other providers take their Secret's keys as they are.
    """
    # pylint: disable=redefined-builtin
    if type == "prometheus":
        credentials = dict((key, value) for key, value in (
            ("token", bearer_token), ("username", username), ("password", password)) if value)
    return provider_for(type, address, credentials=credentials,
                        insecure_skip_verify=not validate_certs, timeout=timeout,
                        headers=headers, metric_interval=metric_interval, ca_cert=ca_cert,
                        region=region, read_object=read_object)


def run_check(plan, threshold_range, fail_on_no_data=True, provider_factory=build_provider):
    """Query the provider and judge the value. Returns the module's result dict.

    A provider error is raised as DeliveryError carrying ``verdict: error`` so the module fails
    with the provider's own message, prefixed with the template and provider when there is one.
    """
    prefix = plan.source + ": " if plan.source else ""
    try:
        provider = provider_factory(**plan.provider_settings)
    except InvalidInput as exc:
        raise InvalidInput(prefix + str(exc))
    result = {
        "changed": False,
        "metric": plan.name,
        "query": plan.query,
        "threshold_range": dict((k, v) for k, v in (threshold_range or {}).items() if v is not None),
    }
    try:
        value = provider.run_query(plan.query)
    except NoData as exc:
        result.update(value=None, verdict=NO_DATA, passed=not fail_on_no_data,
                      msg=no_data_message(plan.builtin or plan.name, prefix + exc.reason))
        return result
    except InvalidInput as exc:
        # A query the template's provider cannot read (a json query with method PUT, say).
        raise InvalidInput(prefix + str(exc))
    except ProviderError as exc:
        raise DeliveryError(prefix + str(exc), verdict=ERROR, passed=False, value=None, query=plan.query,
                            metric=plan.name)
    # Built-in checks keep Flagger's wording ("success rate 99.10% ...") whatever their name.
    verdict, message = judge(plan.builtin or plan.name, value, threshold_range)
    result.update(value=value, verdict=verdict, passed=verdict == PASS, msg=message)
    return result
