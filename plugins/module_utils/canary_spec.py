# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a Flagger ``Canary`` (flagger.app/v1beta1): validation, defaults, normalized form.

Everything here is pure (no API access) so that a bad manifest is refused before anything is
written to the cluster, with a message that names the field and what it may contain.
The defaults are Flagger's, so an existing Flagger manifest behaves the way its users expect;
where we deliberately differ, docs/flagger-compatibility.md says so.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.header_match import (
    HEADER_NAME,
    MATCH_KINDS,
    re2_problem,
)
from ansible_collections.progressive.delivery.plugins.module_utils.judge import (
    DEFAULT_ALPHA,
    DEFAULT_MARGINAL_SCORE,
    DEFAULT_PASS_SCORE,
    HIGHER_IS_WORSE,
    comparison_problems,
)
from ansible_collections.progressive.delivery.plugins.module_utils.metric_templates import (
    DURATION as PROMETHEUS_DURATION,
)
from ansible_collections.progressive.delivery.plugins.module_utils.names import (
    PRIMARY_SUFFIX,
    canary_names,
    primary_name,
)

CANARY_API_VERSION = "flagger.app/v1beta1"
CANARY_KIND = "Canary"

DEFAULT_INTERVAL = "60s"
DEFAULT_METRIC_INTERVAL = "1m"
DEFAULT_THRESHOLD = 1
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_WEBHOOK_TIMEOUT = "10s"
DEFAULT_PORT_NAME = "http"
DEFAULT_READY_THRESHOLD = 100
TOTAL_WEIGHT = 100

BUILTIN_METRICS = ("request-success-rate", "request-duration")
WEBHOOK_TYPES = (
    "confirm-rollout",
    "pre-rollout",
    "rollout",
    "confirm-traffic-increase",
    "confirm-promotion",
    "post-rollout",
    "rollback",
    "event",
)
ALERT_SEVERITIES = ("info", "warn", "error")
TARGET_KINDS = ("DaemonSet", "Deployment")
# Target kinds that take no autoscaler: Flagger scales a DaemonSet by its nodes, never by an HPA.
KINDS_WITHOUT_AUTOSCALER = ("DaemonSet",)
AUTOSCALER_KINDS = ("HorizontalPodAutoscaler",)
AUTOSCALER_API_VERSIONS = ("autoscaling/v2", "autoscaling/v2beta2", "autoscaling/v2beta1",
                           "autoscaling/v1")
PROVIDERS = ("traefik",)

# Fields Flagger knows that make no sense with Traefik or that we do not act on yet. They are
# accepted (a Flagger manifest must load unchanged) and reported back as warnings.
IGNORED_SERVICE_FIELDS = (
    "timeout", "backendTimeout", "gateways", "hosts", "trafficPolicy", "match",
    "rewrite", "retries", "headers", "corsPolicy", "meshName", "backends", "delegation",
    "gatewayRefs", "mirror", "cookie", "canaryWeight",
)
# spec.service.trafficDistribution: the values of a Service's spec.trafficDistribution that
# Kubernetes knows (PreferClose since 1.31, the other two since 1.34).
TRAFFIC_DISTRIBUTIONS = ("PreferClose", "PreferSameZone", "PreferSameNode")
IGNORED_SPEC_FIELDS = ("ingressRef", "routeRef", "upstreamRef")

# Flagger's default lifetime of the session affinity cookie, in seconds (one day).
DEFAULT_SESSION_AFFINITY_MAX_AGE = 86400
# RFC 6265 cookie-name: an HTTP token (no separators, controls or spaces).
_COOKIE_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

# Our own fields (docs/judge.md), ignored by Flagger: a metric's ``compare`` and the analysis's
# ``judge``.
COMPARE_FIELDS = ("direction", "maxRatio", "maxDifference", "alpha", "resolution", "group")
JUDGE_FIELDS = ("passScore", "marginalScore", "groupWeights", "inconclusive")
DEFAULT_RESOLUTION = "10s"
INCONCLUSIVE_FAIL = "fail"
# Leave the canary at its weight, the Canary Waiting, for a person to promote or abort.
INCONCLUSIVE_PAUSE = "pause"
INCONCLUSIVE_ACTIONS = (INCONCLUSIVE_FAIL, INCONCLUSIVE_PAUSE)


def default_judge():
    """The judge of an analysis that sets none: Kayenta's usual scores, inconclusive fails."""
    return {"pass_score": DEFAULT_PASS_SCORE, "marginal_score": DEFAULT_MARGINAL_SCORE,
            "group_weights": {}, "inconclusive": INCONCLUSIVE_FAIL}


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0,
    "m": 60.0, "h": 3600.0,
}


class SpecError(InvalidInput):
    """A Canary manifest was refused. ``field`` is the path of the first offending field
    (``spec.analysis.stepWeight``); ``problems`` lists every ``(field, message)`` found."""

    def __init__(self, field, message, problems=None):
        self.field = field
        self.problems = problems or [(field, message)]
        text = "; ".join("{0} {1}".format(f, m) for f, m in self.problems)
        super(SpecError, self).__init__("Invalid Canary: " + text, field=field)


class DurationError(ValueError):
    pass


def parse_duration(value):
    """Seconds (float) in a Go duration string: ``1m``, ``10s``, ``1h30m``, ``500ms``, ``0``.

    Go's syntax is used because Canary manifests are written for Flagger, which is in Go.
    A bare number is refused (Go refuses it too, except ``0``); so are negative durations,
    which have no meaning for intervals and timeouts.
    """
    if isinstance(value, bool) or not isinstance(value, str):
        raise DurationError("must be a duration string such as 30s, 1m or 1h30m; got {0!r}"
                            .format(value))
    text = value.strip()
    if text in ("0", "+0"):
        return 0.0
    if text.startswith("-"):
        raise DurationError("must not be negative; got {0!r}".format(value))
    if text.startswith("+"):
        text = text[1:]
    if not text:
        raise DurationError("must be a duration string such as 30s, 1m or 1h30m; got {0!r}"
                            .format(value))
    total = 0.0
    pos = 0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None:
            raise DurationError(
                "must be a duration such as 30s, 1m, 1h30m or 500ms (units ns, us, ms, s, m, h); "
                "got {0!r}".format(value))
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    return total


def is_dns_label(value):
    return isinstance(value, str) and len(value) <= 63 and bool(_DNS_LABEL.match(value))


def is_dns_subdomain(value):
    return isinstance(value, str) and len(value) <= 253 and bool(_DNS_SUBDOMAIN.match(value))


def is_service_name(value):
    return isinstance(value, str) and len(value) <= 63 and bool(_DNS_1035_LABEL.match(value))


class _Collector(object):
    """Collects every problem so the user can fix a manifest in one go."""

    def __init__(self):
        self.problems = []
        self.warnings = []

    def error(self, field, message):
        self.problems.append((field, message))

    def warn(self, field, message):
        self.warnings.append("{0} {1}".format(field, message))

    def raise_if_any(self):
        if self.problems:
            field, message = self.problems[0]
            raise SpecError(field, message, problems=list(self.problems))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int_field(col, field, value, low, high, default=None, meaning=""):
    if value is None:
        return default
    if not _is_int(value) or value < low or value > high:
        col.error(field, "must be an integer between {0} and {1}{2}; got {3!r}".format(
            low, high, meaning, value))
        return default
    return value


def _bool_field(col, field, value):
    """``value`` when it is true, false or unset (None); otherwise an error naming ``field``."""
    if value is None or isinstance(value, bool):
        return value
    col.error(field, "must be true or false; got {0!r}".format(value))
    return None


def _duration_field(col, field, value, default):
    text = default if value is None or value == "" else value
    try:
        return text, parse_duration(text)
    except DurationError as exc:
        col.error(field, str(exc))
        return default, parse_duration(default)


def _mapping(col, field, value, required=False):
    if value is None:
        if required:
            col.error(field, "is required")
        return None
    if not isinstance(value, dict):
        col.error(field, "must be a mapping; got {0}".format(type(value).__name__))
        return None
    return value


def _string_map(col, field, value):
    """Flagger's map[string]string: YAML may turn ``"true"`` into a bool when unquoted."""
    value = _mapping(col, field, value)
    if not value:
        return {}
    result = {}
    for key, item in value.items():
        if isinstance(item, bool):
            result[str(key)] = "true" if item else "false"
        elif isinstance(item, (str, int, float)):
            result[str(key)] = str(item)
        else:
            col.error("{0}.{1}".format(field, key), "must be a string; got {0}".format(
                type(item).__name__))
    return result


def _string_list(col, field, value):
    """A list of strings (Flagger's []string), or an error naming the field."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        col.error(field, "must be a list of label or annotation keys; got {0!r}".format(value))
        return []
    return list(value)


def _parse_target(col, spec):
    target = _mapping(col, "spec.targetRef", spec.get("targetRef"), required=True) or {}
    kind = target.get("kind")
    name = target.get("name")
    api_version = target.get("apiVersion") or "apps/v1"
    if target:
        if kind not in TARGET_KINDS:
            col.error("spec.targetRef.kind", "must be one of {0}; got {1!r}".format(
                ", ".join(TARGET_KINDS), kind))
        if api_version != "apps/v1":
            col.error("spec.targetRef.apiVersion", "must be apps/v1; got {0!r}".format(
                api_version))
        if not is_dns_subdomain(name):
            col.error("spec.targetRef.name", "must be a DNS subdomain name (lowercase letters, "
                      "digits, '-' and '.'); got {0!r}".format(name))
        elif len(primary_name(name)) > 253:
            col.error("spec.targetRef.name", "is too long for its -primary copy")
    return {"api_version": api_version, "kind": kind, "name": name}


def _parse_autoscaler(col, spec):
    ref = _mapping(col, "spec.autoscalerRef", spec.get("autoscalerRef"))
    if ref is None:
        return None
    kind = ref.get("kind")
    if kind not in AUTOSCALER_KINDS:
        col.error("spec.autoscalerRef.kind", "must be one of {0}; got {1!r}".format(
            ", ".join(AUTOSCALER_KINDS), kind))
    api_version = ref.get("apiVersion")
    if api_version not in AUTOSCALER_API_VERSIONS:
        col.error("spec.autoscalerRef.apiVersion", "must be one of {0}; got {1!r}".format(
            ", ".join(AUTOSCALER_API_VERSIONS), api_version))
    name = ref.get("name")
    if not is_dns_subdomain(name):
        col.error("spec.autoscalerRef.name", "must be a DNS subdomain name; got {0!r}".format(
            name))
    replicas = _mapping(col, "spec.autoscalerRef.primaryScalerReplicas",
                        ref.get("primaryScalerReplicas")) or {}
    overrides = {}
    for key in ("minReplicas", "maxReplicas"):
        if key in replicas:
            overrides[key] = _int_field(
                col, "spec.autoscalerRef.primaryScalerReplicas." + key, replicas[key], 1,
                2 ** 31 - 1)
    if ref.get("primaryScalerQueries"):
        col.warn("spec.autoscalerRef.primaryScalerQueries", "is ignored (KEDA ScaledObjects "
                 "are not supported)")
    return {"api_version": api_version, "kind": kind, "name": name,
            "primary_scaler_replicas": overrides}


def _parse_service(col, spec, target_name):
    service = _mapping(col, "spec.service", spec.get("service"), required=True) or {}
    name = service.get("name") or target_name
    if service.get("name") is not None and not is_service_name(service.get("name")):
        col.error("spec.service.name", "must be a DNS-1035 label (lowercase letters, digits and "
                  "'-', starting with a letter, at most 63 characters); got {0!r}".format(
                      service.get("name")))
    elif isinstance(name, str) and service.get("name") is None and not is_service_name(name):
        col.error("spec.targetRef.name", "is used as the Service name and must then be a DNS-1035 "
                  "label (or set spec.service.name); got {0!r}".format(name))
    if isinstance(name, str) and len(name) > 63 - len(PRIMARY_SUFFIX):
        col.error("spec.service.name", "must be at most 55 characters so that {0}-primary and "
                  "{0}-canary are valid Service names".format(name))
    port = service.get("port")
    if isinstance(spec.get("service"), dict) and port is None:
        col.error("spec.service.port", "is required (the port of the generated ClusterIP "
                  "Services, 1-65535)")
    elif port is not None:
        port = _int_field(col, "spec.service.port", port, 1, 65535)
    target_port = service.get("targetPort")
    if target_port is None or target_port == "":
        target_port = port
    elif _is_int(target_port):
        target_port = _int_field(col, "spec.service.targetPort", target_port, 1, 65535)
    elif isinstance(target_port, str) and target_port.isdigit():
        target_port = _int_field(col, "spec.service.targetPort", int(target_port), 1, 65535)
    elif not (isinstance(target_port, str) and len(target_port) <= 15
              and _PORT_NAME.match(target_port) and re.search("[a-z]", target_port)):
        col.error("spec.service.targetPort", "must be a port number (1-65535) or a container "
                  "port name (IANA service name); got {0!r}".format(target_port))
    port_name = service.get("portName") or DEFAULT_PORT_NAME
    if not (isinstance(port_name, str) and len(port_name) <= 15 and _PORT_NAME.match(port_name)):
        col.error("spec.service.portName", "must be an IANA service name (lowercase letters, "
                  "digits and '-', at most 15 characters); got {0!r}".format(port_name))
    metadata = {}
    for role in ("apex", "primary", "canary"):
        extra = _mapping(col, "spec.service." + role, service.get(role)) or {}
        metadata[role] = {
            "labels": _string_map(col, "spec.service.{0}.labels".format(role),
                                  extra.get("labels")),
            "annotations": _string_map(col, "spec.service.{0}.annotations".format(role),
                                       extra.get("annotations")),
        }
    # Keys that other tools write on the generated Services and that each run keeps as they are.
    unmanaged = _mapping(col, "spec.service.unmanagedMetadata",
                         service.get("unmanagedMetadata")) or {}
    unmanaged_metadata = {
        kind: _string_list(col, "spec.service.unmanagedMetadata." + kind, unmanaged.get(kind))
        for kind in ("labels", "annotations")}
    for key in IGNORED_SERVICE_FIELDS:
        if service.get(key) not in (None, False, [], {}, ""):
            col.warn("spec.service." + key, "is ignored with the traefik provider")
    flags = {key: _bool_field(col, "spec.service." + key, service.get(key)) is True
             for key in ("portDiscovery", "headless")}
    distribution = service.get("trafficDistribution") or None
    if distribution is not None and distribution not in TRAFFIC_DISTRIBUTIONS:
        col.error("spec.service.trafficDistribution", "must be one of {0}; got {1!r}".format(
            ", ".join(TRAFFIC_DISTRIBUTIONS), distribution))
    return {
        "name": name,
        "port": port,
        "target_port": target_port,
        "port_name": port_name,
        "app_protocol": service.get("appProtocol"),
        "metadata": metadata,
        "unmanaged_metadata": unmanaged_metadata,
        "port_discovery": flags["portDiscovery"],
        "headless": flags["headless"],
        "traffic_distribution": distribution,
    }


def _parse_threshold_range(col, field, metric):
    raw = metric.get("thresholdRange")
    name = metric.get("name")
    if raw is None and _is_number(metric.get("threshold")) and name in BUILTIN_METRICS:
        # The deprecated scalar threshold is a minimum for the success rate, a maximum for
        # the duration, as in Flagger.
        key = "min" if name == "request-success-rate" else "max"
        return {"min": None, "max": None, key: float(metric["threshold"])}
    raw = _mapping(col, field + ".thresholdRange", raw)
    if raw is None:
        return None
    limits = {}
    for key in ("min", "max"):
        value = raw.get(key)
        if value is not None and not _is_number(value):
            col.error("{0}.thresholdRange.{1}".format(field, key), "must be a number; got "
                      "{0!r}".format(value))
            value = None
        limits[key] = None if value is None else float(value)
    if limits["min"] is not None and limits["max"] is not None and limits["min"] > limits["max"]:
        col.error(field + ".thresholdRange", "min ({0:g}) must not be greater than max "
                  "({1:g})".format(limits["min"], limits["max"]))
    if limits["min"] is None and limits["max"] is None:
        col.error(field + ".thresholdRange", "must set min, max or both")
    return limits


def _mappings(col, analysis, key, expected):
    """``(field, item)`` for each mapping in the list ``spec.analysis.<key>``; anything else is
    an error naming the field and the ``expected`` keys."""
    items = analysis.get(key) or []
    if not isinstance(items, list):
        col.error("spec.analysis." + key, "must be a list")
        return
    for index, item in enumerate(items):
        field = "spec.analysis.{0}[{1}]".format(key, index)
        if not isinstance(item, dict):
            col.error(field, "must be a mapping with " + expected)
            continue
        yield field, item


def _parse_metrics(col, analysis, namespace):
    result = []
    seen = set()
    for field, metric in _mappings(col, analysis, "metrics", "name and thresholdRange"):
        name = metric.get("name")
        if not isinstance(name, str) or not name.strip():
            col.error(field + ".name", "is required")
            name = None
        elif name in seen:
            col.error(field + ".name", "{0!r} is used twice; metric names must be unique".format(
                name))
        seen.add(name)
        template_ref = _mapping(col, field + ".templateRef", metric.get("templateRef"))
        ref = None
        if template_ref is not None:
            ref_name = template_ref.get("name")
            ref_ns = template_ref.get("namespace") or namespace
            if not is_dns_subdomain(ref_name):
                col.error(field + ".templateRef.name", "must name a MetricTemplate (a DNS "
                          "subdomain name); got {0!r}".format(ref_name))
            if not is_dns_label(ref_ns):
                col.error(field + ".templateRef.namespace", "must be a namespace name (DNS "
                          "label); got {0!r}".format(ref_ns))
            ref = {"name": ref_name, "namespace": ref_ns}
        query = metric.get("query") or None
        if query is not None and not isinstance(query, str):
            col.error(field + ".query", "must be a PromQL string")
            query = None
        if ref is None and query is None and name is not None and name not in BUILTIN_METRICS:
            col.error(field + ".name", "{0!r} is not a built-in metric; allowed: {1}, or set "
                      "templateRef to a MetricTemplate".format(name, ", ".join(BUILTIN_METRICS)))
        comparison = _parse_comparison(col, field + ".compare", metric.get("compare"))
        limits = _parse_threshold_range(col, field, metric)
        if limits is None and comparison is None:
            if ref is None:
                col.error(field + ".thresholdRange", "is required (min and/or max) unless the "
                          "metric uses a templateRef or compare")
            limits = {"min": None, "max": None}
        interval, _seconds = _duration_field(col, field + ".interval", metric.get("interval"),
                                             DEFAULT_METRIC_INTERVAL)
        result.append({
            "name": name,
            "threshold_range": limits,
            "interval": interval,
            "template_ref": ref,
            "template_variables": _string_map(col, field + ".templateVariables",
                                              metric.get("templateVariables")),
            "query": query,
            "compare": comparison,
        })
    return result


def _parse_comparison(col, field, raw):
    """Our ``compare`` of a metric: judge the canary against the primary (ignored by Flagger)."""
    raw = _mapping(col, field, raw)
    if raw is None:
        return None
    unknown = sorted(set(raw) - set(COMPARE_FIELDS))
    if unknown:
        col.error(field + "." + str(unknown[0]), "is not a compare field; allowed: {0}".format(
            ", ".join(COMPARE_FIELDS)))
    comparison = {
        "direction": raw.get("direction") or HIGHER_IS_WORSE,
        "max_ratio": raw.get("maxRatio"),
        "max_difference": raw.get("maxDifference"),
        "alpha": DEFAULT_ALPHA if raw.get("alpha") is None else raw.get("alpha"),
        "group": raw.get("group"),
    }
    for name, message in comparison_problems(comparison["direction"], comparison["max_ratio"],
                                             comparison["max_difference"], comparison["alpha"]):
        col.error(field + "." + name, message)
    if comparison["group"] is not None and not (isinstance(comparison["group"], str)
                                                and comparison["group"].strip()):
        col.error(field + ".group", "must be a non-empty string; got {0!r}".format(
            comparison["group"]))
    resolution, seconds = _duration_field(col, field + ".resolution", raw.get("resolution"),
                                          DEFAULT_RESOLUTION)
    if seconds < 1 or seconds != int(seconds):
        col.error(field + ".resolution", "must be a whole number of seconds, at least 1s (and "
                  "at least twice the scrape interval); got {0!r}".format(resolution))
    elif not PROMETHEUS_DURATION.match(resolution):
        col.error(field + ".resolution", "must be a Prometheus duration such as 10s or 1m; got "
                  "{0!r}".format(resolution))
    comparison["resolution"] = resolution
    comparison["resolution_seconds"] = int(seconds)
    return comparison


def _parse_judge(col, analysis, metrics):
    """Our ``judge`` of the analysis: how a step's comparisons are scored (ignored by Flagger)."""
    field = "spec.analysis.judge"
    raw = _mapping(col, field, analysis.get("judge")) or {}
    unknown = sorted(set(raw) - set(JUDGE_FIELDS))
    if unknown:
        col.error(field + "." + str(unknown[0]), "is not a judge field; allowed: {0}".format(
            ", ".join(JUDGE_FIELDS)))
    scores = {}
    for key, default in (("passScore", DEFAULT_PASS_SCORE),
                         ("marginalScore", DEFAULT_MARGINAL_SCORE)):
        value = raw.get(key)
        if value is None:
            value = default
        elif not _is_number(value) or not 0 <= value <= 100:
            col.error(field + "." + key, "must be a number from 0 to 100; got {0!r}".format(value))
            value = default
        scores[key] = float(value)
    if scores["marginalScore"] > scores["passScore"]:
        col.error(field + ".marginalScore", "({0:g}) must not be greater than passScore "
                  "({1:g})".format(scores["marginalScore"], scores["passScore"]))
    weights = _mapping(col, field + ".groupWeights", raw.get("groupWeights")) or {}
    for group, weight in weights.items():
        if not _is_number(weight) or weight < 0:
            col.error("{0}.groupWeights.{1}".format(field, group), "must be a number of at "
                      "least 0; got {0!r}".format(weight))
    if weights:
        for index, metric in enumerate(metrics):
            comparison = metric.get("compare")
            if comparison is not None and comparison.get("group") not in weights:
                col.error("spec.analysis.metrics[{0}].compare.group".format(index),
                          "must name a group of spec.analysis.judge.groupWeights ({0}); got "
                          "{1!r}".format(", ".join(sorted(weights)), comparison.get("group")))
    inconclusive = raw.get("inconclusive") or INCONCLUSIVE_FAIL
    if inconclusive not in INCONCLUSIVE_ACTIONS:
        col.error(field + ".inconclusive", "must be one of {0} (fail counts an inconclusive step "
                  "as a failed check, pause leaves the canary at its weight for a person to "
                  "decide); got {1!r}".format(", ".join(INCONCLUSIVE_ACTIONS), inconclusive))
        inconclusive = INCONCLUSIVE_FAIL
    return {"pass_score": scores["passScore"], "marginal_score": scores["marginalScore"],
            "group_weights": dict(weights), "inconclusive": inconclusive}


def _parse_webhooks(col, analysis):
    result = []
    for field, hook in _mappings(col, analysis, "webhooks", "name, type and url"):
        name = hook.get("name")
        if not isinstance(name, str) or not name:
            col.error(field + ".name", "is required")
        # An empty type means rollout in Flagger.
        hook_type = hook.get("type") or "rollout"
        if hook_type not in WEBHOOK_TYPES:
            col.error(field + ".type", "must be one of {0}; got {1!r}".format(
                ", ".join(WEBHOOK_TYPES), hook_type))
        url = hook.get("url")
        if not (isinstance(url, str) and re.match(r"^https?://[^/\s]+", url)):
            col.error(field + ".url", "must be an http:// or https:// URL; got {0!r}".format(url))
        timeout, seconds = _duration_field(col, field + ".timeout", hook.get("timeout"),
                                           DEFAULT_WEBHOOK_TIMEOUT)
        if seconds <= 0:
            col.error(field + ".timeout", "must be greater than zero; got {0!r}".format(timeout))
        retries = _int_field(col, field + ".retries", hook.get("retries"), 0, 100, default=0)
        result.append({
            "name": name,
            "type": hook_type,
            "url": url,
            "timeout": timeout,
            "timeout_seconds": seconds,
            "retries": retries,
            "disable_tls": bool(hook.get("disableTLS", False)),
            "metadata": _string_map(col, field + ".metadata", hook.get("metadata")),
            "mute_alert": bool(hook.get("muteAlert", False)),
        })
    return result


def _parse_alerts(col, analysis, namespace):
    result = []
    for field, alert in _mappings(col, analysis, "alerts", "name and providerRef"):
        severity = alert.get("severity") or "info"
        if severity not in ALERT_SEVERITIES:
            col.error(field + ".severity", "must be one of {0}; got {1!r}".format(
                ", ".join(ALERT_SEVERITIES), severity))
        ref = _mapping(col, field + ".providerRef", alert.get("providerRef"), required=True) or {}
        if ref and not is_dns_subdomain(ref.get("name")):
            col.error(field + ".providerRef.name", "must name an AlertProvider; got {0!r}".format(
                ref.get("name")))
        result.append({
            "name": alert.get("name"),
            "severity": severity,
            "provider_ref": {"name": ref.get("name"),
                             "namespace": ref.get("namespace") or namespace},
        })
    return result


def weight_steps(step_weight=None, max_weight=None, step_weights=None):
    """The canary weights of the analysis, in order: ``[5, 10, ..., 50]``.

    An explicit ``stepWeights`` list is used when ``stepWeight`` is not set (Flagger gives
    ``stepWeight`` precedence). The last step never exceeds ``maxWeight``; Flagger may overshoot
    it when maxWeight is not a multiple of stepWeight, we stop at maxWeight.
    """
    if step_weight:
        top = max_weight or TOTAL_WEIGHT
        steps = list(range(step_weight, top + 1, step_weight))
        if not steps or steps[-1] != top:
            steps.append(top)
        return steps
    if step_weights:
        return [min(w, TOTAL_WEIGHT) for w in step_weights]
    return []


def promotion_steps(final_canary_weight, step_weight_promotion):
    """Primary weights while traffic moves back to the promoted primary (stepWeightPromotion).

    Empty when stepWeightPromotion is not set: all traffic goes to the primary at once.
    """
    if not step_weight_promotion:
        return []
    steps = []
    primary = TOTAL_WEIGHT - final_canary_weight
    while primary < TOTAL_WEIGHT:
        primary = min(TOTAL_WEIGHT, primary + step_weight_promotion)
        steps.append(primary)
    return steps


def _parse_weights(col, analysis):
    step_weight = analysis.get("stepWeight")
    max_weight = analysis.get("maxWeight")
    step_weights = analysis.get("stepWeights")
    if step_weight is not None and step_weight != 0:
        step_weight = _int_field(col, "spec.analysis.stepWeight", step_weight, 1, 100,
                                 meaning=" (percent of traffic added per step)")
    else:
        step_weight = None
    if max_weight is not None and max_weight != 0:
        max_weight = _int_field(col, "spec.analysis.maxWeight", max_weight, 1, 100,
                                meaning=" (percent of traffic the canary gets at most)")
    else:
        max_weight = None
    if step_weights is not None:
        if not isinstance(step_weights, list) or not step_weights:
            col.error("spec.analysis.stepWeights", "must be a non-empty list of increasing "
                      "weights between 1 and 100; got {0!r}".format(step_weights))
            step_weights = None
        elif not all(_is_int(w) and 1 <= w <= 100 for w in step_weights):
            col.error("spec.analysis.stepWeights", "must contain integers between 1 and 100; "
                      "got {0!r}".format(step_weights))
            step_weights = None
        elif any(b <= a for a, b in zip(step_weights, step_weights[1:])):
            col.error("spec.analysis.stepWeights", "must be strictly increasing; got {0!r}".format(
                step_weights))
            step_weights = None
    if step_weight and max_weight and max_weight < step_weight:
        col.error("spec.analysis.maxWeight", "({0}) must be greater than or equal to "
                  "spec.analysis.stepWeight ({1})".format(max_weight, step_weight))
    if step_weight and step_weights:
        col.warn("spec.analysis.stepWeights", "is ignored because spec.analysis.stepWeight is "
                 "set (as in Flagger)")
    promotion = analysis.get("stepWeightPromotion")
    if promotion is not None and promotion != 0:
        promotion = _int_field(col, "spec.analysis.stepWeightPromotion", promotion, 1, 100)
    else:
        promotion = None
    if step_weight:
        effective_max = max_weight or TOTAL_WEIGHT
    elif step_weights:
        effective_max = min(TOTAL_WEIGHT, step_weights[-1])
    else:
        effective_max = max_weight or TOTAL_WEIGHT
    return step_weight, effective_max, step_weights, promotion


def _parse_ab_testing(col, analysis):
    """``spec.analysis.iterations`` and ``match``: A/B testing, where the requests that match go
    to the canary for a number of iterations. Returns ``(iterations, match)``, ``(None, None)``
    without them; ``match`` parsed to ``[{"headers": {name: {"kind": k, "value": v}}}]``."""
    iterations = analysis.get("iterations")
    raw_match = analysis.get("match")
    if not iterations and not raw_match:
        return None, None
    if not raw_match:
        # Blue/green: the canary is analysed for the iterations without live traffic.
        return _int_field(col, "spec.analysis.iterations", iterations, 1, 1000,
                          meaning=" (intervals of blue/green)"), None
    if not iterations:
        col.error("spec.analysis.match", "needs spec.analysis.iterations (the number of "
                  "intervals the matching requests go to the canary)")
        return None, None
    iterations = _int_field(col, "spec.analysis.iterations", iterations, 1, 1000,
                            meaning=" (intervals of A/B testing)")
    if not isinstance(raw_match, list):
        col.error("spec.analysis.match", "must be a list of conditions (each with headers); got "
                  "{0}".format(type(raw_match).__name__))
        return iterations, None
    match = []
    for index, entry in enumerate(raw_match):
        field = "spec.analysis.match[{0}]".format(index)
        entry = _mapping(col, field, entry, required=True)
        if entry is None:
            continue
        for key in sorted(entry):
            if key != "headers":
                col.error("{0}.{1}".format(field, key), "is not supported with the traefik "
                          "provider; match on headers (a cookie is the header 'cookie' with a "
                          "regex)")
        headers = _mapping(col, field + ".headers", entry.get("headers"), required=True)
        if not headers:
            if headers is not None:
                col.error(field + ".headers", "must name at least one header")
            continue
        parsed = {}
        for name, condition in headers.items():
            parsed_condition = _parse_header_condition(
                col, "{0}.headers.{1}".format(field, name), name, condition)
            if parsed_condition:
                parsed[name.lower()] = parsed_condition
        if parsed:
            match.append({"headers": parsed})
    return iterations, match


def _parse_header_condition(col, field, name, condition):
    if not isinstance(name, str) or not HEADER_NAME.match(name):
        col.error(field, "must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)")
        return None
    condition = _mapping(col, field, condition, required=True)
    if condition is None:
        return None
    kinds = [k for k in condition if k in MATCH_KINDS]
    others = sorted(k for k in condition if k not in MATCH_KINDS)
    if others or len(kinds) != 1:
        col.error(field, "must have exactly one of {0}; got {1}".format(
            ", ".join(MATCH_KINDS), ", ".join(sorted(condition)) or "none"))
        return None
    kind = kinds[0]
    value = condition[kind]
    if not isinstance(value, str) or value == "":
        col.error("{0}.{1}".format(field, kind), "must be a non-empty string; got {0!r}".format(
            value))
        return None
    if "`" in value:
        col.error("{0}.{1}".format(field, kind), "must not contain a backtick (Traefik rules "
                  "quote values with it); got {0!r}".format(value))
        return None
    if kind == "regex":
        problem = re2_problem(value)
        if problem:
            col.error(field + ".regex", "{0}: {1!r}".format(problem, value))
            return None
    return {"kind": kind, "value": value}


def _parse_mirror(col, analysis, iterations, match):
    """``spec.analysis.mirror`` and ``mirrorWeight``: copies of the live requests sent to the
    canary for the iterations while the primary answers them. Returns ``{"weight": percent}``
    or None."""
    mirror = analysis.get("mirror")
    weight = analysis.get("mirrorWeight")
    if mirror is None or mirror is False:
        if weight:
            col.warn("spec.analysis.mirrorWeight", "is ignored without spec.analysis.mirror: true")
        return None
    if mirror is not True:
        col.error("spec.analysis.mirror", "must be true or false; got {0!r}".format(mirror))
        return None
    if not iterations:
        col.error("spec.analysis.mirror", "needs spec.analysis.iterations (mirroring runs for the "
                  "iterations of a blue/green analysis, as in Flagger); it is not supported with "
                  "stepWeight or stepWeights")
    if match:
        col.error("spec.analysis.mirror", "cannot be combined with spec.analysis.match (a matching "
                  "request would reach the canary and be copied to it too); use one of them")
    if analysis.get("sessionAffinity"):
        col.error("spec.analysis.mirror", "cannot be combined with spec.analysis.sessionAffinity "
                  "(no user is answered by the canary while it is mirrored to)")
    if weight is None or weight == 0:
        # As in Flagger (its Istio router): without mirrorWeight every request is mirrored.
        return {"weight": TOTAL_WEIGHT}
    return {"weight": _int_field(col, "spec.analysis.mirrorWeight", weight, 0, TOTAL_WEIGHT,
                                 default=TOTAL_WEIGHT,
                                 meaning=" (percent of the requests copied to the canary)")}


def _parse_session_affinity(col, analysis):
    """``spec.analysis.sessionAffinity``: the sticky cookie that keeps a user on the version that
    first answered them; ``{"cookie_name": ..., "max_age": seconds}`` or None."""
    field = "spec.analysis.sessionAffinity"
    affinity = _mapping(col, field, analysis.get("sessionAffinity"))
    if not affinity:
        return None
    name = affinity.get("cookieName")
    if not isinstance(name, str) or not _COOKIE_NAME.match(name):
        col.error(field + ".cookieName", "is required and must be a cookie name (letters, digits "
                  "and !#$%&'*+-.^_`|~, no spaces); got {0!r}".format(name))
    max_age = affinity.get("maxAge")
    if max_age is None or max_age == 0:
        # As in Flagger, an unset (or zero) maxAge means one day.
        max_age = DEFAULT_SESSION_AFFINITY_MAX_AGE
    else:
        max_age = _int_field(col, field + ".maxAge", max_age, 1, 2 ** 31 - 1,
                             default=DEFAULT_SESSION_AFFINITY_MAX_AGE,
                             meaning=" (seconds the cookie lives)")
    if affinity.get("primaryCookieName"):
        col.warn(field + ".primaryCookieName", "is ignored with the traefik provider: Traefik's "
                 "sticky cookie names the Service that answered, so after a promotion or a "
                 "rollback it leads back to the primary by itself")
    parsed = {"cookie_name": name, "max_age": max_age}
    parsed.update(_parse_cookie_attributes(col, field, affinity))
    return parsed


# The Set-Cookie attributes of Flagger's sessionAffinity, as Traefik's sticky cookie names them.
_COOKIE_FLAGS = (("httpOnly", "http_only"), ("secure", "secure"))
_COOKIE_SAME_SITE = ("Strict", "Lax", "None")
_COOKIE_DOMAIN = re.compile(r"^\.?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                            r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
# A cookie path: starts with "/", no ";" (it would end the attribute), no spaces or controls.
_COOKIE_PATH = re.compile(r"^/[\x21-\x3a\x3c-\x7e]*$")


def _parse_cookie_attributes(col, field, affinity):
    """``domain``, ``httpOnly``, ``path``, ``sameSite`` and ``secure`` of a sessionAffinity, the
    attributes Flagger puts on its Set-Cookie, for Traefik's sticky cookie; only those given."""
    attributes = {}
    for key, name in _COOKIE_FLAGS:
        value = _bool_field(col, field + "." + key, affinity.get(key))
        if value is not None:
            attributes[name] = value
    same_site = affinity.get("sameSite")
    if same_site:
        if same_site not in _COOKIE_SAME_SITE:
            col.error(field + ".sameSite", "must be one of {0}; got {1!r}".format(
                ", ".join(_COOKIE_SAME_SITE), same_site))
        else:
            attributes["same_site"] = same_site
    domain = affinity.get("domain")
    if domain:
        if not isinstance(domain, str) or len(domain) > 253 or not _COOKIE_DOMAIN.match(domain):
            col.error(field + ".domain", "must be a host name such as example.com (letters, "
                      "digits, '-' and '.'); got {0!r}".format(domain))
        else:
            attributes["domain"] = domain
    path = affinity.get("path")
    if path:
        if not isinstance(path, str) or not _COOKIE_PATH.match(path):
            col.error(field + ".path", "must be a URL path starting with '/', without ';', "
                      "spaces or control characters; got {0!r}".format(path))
        else:
            attributes["path"] = path
    if affinity.get("partitioned"):
        col.warn(field + ".partitioned", "is ignored with the traefik provider: Traefik's sticky "
                 "cookie has no Partitioned attribute, so the cookie is set without it")
    return attributes


def _parse_analysis(col, spec, namespace, skip_analysis):
    analysis_field = "spec.analysis"
    raw = spec.get("analysis")
    if raw is None and spec.get("canaryAnalysis") is not None:
        analysis_field = "spec.canaryAnalysis"
        raw = spec.get("canaryAnalysis")
    analysis = _mapping(col, analysis_field, raw)
    if analysis is None:
        # Without an analysis Flagger promotes straight away; so do we.
        return None, True
    interval, interval_seconds = _duration_field(col, "spec.analysis.interval",
                                                 analysis.get("interval"), DEFAULT_INTERVAL)
    if interval_seconds <= 0:
        col.error("spec.analysis.interval", "must be greater than zero; got {0!r}".format(
            interval))
    threshold = analysis.get("threshold")
    if threshold is None:
        threshold = DEFAULT_THRESHOLD
    else:
        threshold = _int_field(col, "spec.analysis.threshold", threshold, 1, 10000,
                               default=DEFAULT_THRESHOLD,
                               meaning=" (failed checks before rollback)")
    iterations, match = _parse_ab_testing(col, analysis)
    mirror = _parse_mirror(col, analysis, iterations, match)
    step_weight, max_weight, step_weights, promotion = _parse_weights(col, analysis)
    if iterations:
        why = ("A/B testing sends every matching request to the canary" if match else
               "mirroring copies the requests to the canary for the iterations" if mirror else
               "blue/green analyses the canary without live traffic, then switches it all")
        for key in ("stepWeight", "stepWeights", "maxWeight", "stepWeightPromotion"):
            if analysis.get(key):
                col.warn("spec.analysis." + key, "is ignored with spec.analysis.iterations "
                         "({0})".format(why))
        step_weight, max_weight, step_weights, promotion = None, TOTAL_WEIGHT, None, None
    elif not step_weight and not step_weights and not skip_analysis:
        col.error("spec.analysis.stepWeight", "or spec.analysis.stepWeights is required (the "
                  "canary weights of the analysis)")
    ready = {}
    for key, out in (("primaryReadyThreshold", "primary_ready_threshold"),
                     ("canaryReadyThreshold", "canary_ready_threshold")):
        ready[out] = _int_field(col, "spec.analysis." + key, analysis.get(key), 0, 100,
                                default=DEFAULT_READY_THRESHOLD,
                                meaning=" (percent of pods that must be available)")
    steps = weight_steps(step_weight, max_weight, step_weights)
    metrics = _parse_metrics(col, analysis, namespace)
    result = {
        "session_affinity": _parse_session_affinity(col, analysis),
        "iterations": iterations,
        "match": match,
        "mirror": mirror,
        "interval": interval,
        "interval_seconds": interval_seconds,
        "threshold": threshold,
        "max_weight": max_weight,
        "step_weight": step_weight,
        "step_weights": step_weights or [],
        "step_weight_promotion": promotion,
        "metrics": metrics,
        "judge": _parse_judge(col, analysis, metrics),
        "webhooks": _parse_webhooks(col, analysis),
        "alerts": _parse_alerts(col, analysis, namespace),
    }
    result.update(ready)
    return result, False


def parse_canary(obj, default_namespace="default"):
    """Validate a Canary manifest and return its normalized form (see the design note).

    Raises SpecError naming every offending field. Unsupported-but-harmless Flagger fields are
    listed in the result's ``warnings``.
    """
    col = _Collector()
    if not isinstance(obj, dict):
        raise SpecError("(root)", "must be a Canary manifest (a mapping); got {0}".format(
            type(obj).__name__))
    if obj.get("apiVersion") != CANARY_API_VERSION:
        col.error("apiVersion", "must be {0}; got {1!r}".format(
            CANARY_API_VERSION, obj.get("apiVersion")))
    if obj.get("kind") != CANARY_KIND:
        col.error("kind", "must be {0}; got {1!r}".format(CANARY_KIND, obj.get("kind")))
    metadata = _mapping(col, "metadata", obj.get("metadata"), required=True) or {}
    name = metadata.get("name")
    if not is_dns_subdomain(name):
        col.error("metadata.name", "must be a DNS subdomain name (lowercase letters, digits, "
                  "'-' and '.'); got {0!r}".format(name))
    namespace = metadata.get("namespace") or default_namespace
    if not is_dns_label(namespace):
        col.error("metadata.namespace", "must be a DNS label; got {0!r}".format(namespace))
    spec = _mapping(col, "spec", obj.get("spec"), required=True)
    if spec is None:
        col.raise_if_any()
    provider = spec.get("provider") or "traefik"
    if provider not in PROVIDERS:
        col.error("spec.provider", "must be one of {0} (or omitted); got {1!r}".format(
            ", ".join(PROVIDERS), provider))
    target = _parse_target(col, spec)
    autoscaler = _parse_autoscaler(col, spec)
    if autoscaler is not None and target["kind"] in KINDS_WITHOUT_AUTOSCALER:
        col.error("spec.autoscalerRef", "must not be set for a {0} target (spec.targetRef.kind); "
                  "only a Deployment takes an autoscaler".format(target["kind"]))
    service = _parse_service(col, spec, target["name"])
    deadline = _int_field(col, "spec.progressDeadlineSeconds",
                          spec.get("progressDeadlineSeconds"), 1, 2 ** 31 - 1,
                          default=DEFAULT_PROGRESS_DEADLINE_SECONDS)
    skip_analysis = spec.get("skipAnalysis", False)
    if not isinstance(skip_analysis, bool):
        col.error("spec.skipAnalysis", "must be true or false; got {0!r}".format(skip_analysis))
        skip_analysis = False
    suspend = spec.get("suspend", False)
    if not isinstance(suspend, bool):
        col.error("spec.suspend", "must be true or false; got {0!r}".format(suspend))
        suspend = False
    revert_on_deletion = spec.get("revertOnDeletion", False)
    if not isinstance(revert_on_deletion, bool):
        col.error("spec.revertOnDeletion", "must be true or false; got {0!r}".format(
            revert_on_deletion))
        revert_on_deletion = False
    for key in IGNORED_SPEC_FIELDS:
        if spec.get(key):
            col.warn("spec." + key, "is ignored with the traefik provider")
    analysis, no_analysis = _parse_analysis(col, spec, namespace, skip_analysis)
    metrics_server = spec.get("metricsServer") or None
    if metrics_server is not None and not (isinstance(metrics_server, str)
                                           and re.match(r"^https?://", metrics_server)):
        col.error("spec.metricsServer", "must be an http:// or https:// URL; got {0!r}".format(
            metrics_server))
    col.raise_if_any()

    if analysis is None:
        analysis = {
            "interval": DEFAULT_INTERVAL, "interval_seconds": parse_duration(DEFAULT_INTERVAL),
            "threshold": DEFAULT_THRESHOLD, "max_weight": TOTAL_WEIGHT, "step_weight": None,
            "step_weights": [], "step_weight_promotion": None, "metrics": [], "webhooks": [],
            "session_affinity": None, "iterations": None, "match": None, "mirror": None,
            "alerts": [], "judge": default_judge(), "primary_ready_threshold": DEFAULT_READY_THRESHOLD,
            "canary_ready_threshold": DEFAULT_READY_THRESHOLD,
        }
    if analysis["iterations"] and analysis["match"]:
        # A/B testing: every iteration sends all matching requests to the canary.
        steps = [TOTAL_WEIGHT] * analysis["iterations"]
    elif analysis["iterations"] and analysis["mirror"]:
        # Mirroring: every iteration copies the mirrored share of the requests to the canary.
        steps = [analysis["mirror"]["weight"]] * analysis["iterations"]
    elif analysis["iterations"]:
        # Blue/green: every iteration keeps all live traffic on the primary.
        steps = [0] * analysis["iterations"]
    else:
        steps = weight_steps(analysis["step_weight"], analysis["max_weight"],
                             analysis["step_weights"])
    final = steps[-1] if steps else 0
    parsed = {
        "name": name,
        "namespace": namespace,
        "provider": provider,
        "target": target,
        "autoscaler": autoscaler,
        "progress_deadline_seconds": deadline,
        "skip_analysis": bool(skip_analysis or no_analysis),
        "suspend": suspend,
        "revert_on_deletion": revert_on_deletion,
        "metrics_server": metrics_server,
        "service": service,
        "analysis": analysis,
        "steps": steps,
        "promotion_steps": promotion_steps(final, analysis["step_weight_promotion"]),
        "warnings": list(col.warnings),
    }
    parsed["names"] = canary_names(parsed)
    return parsed


def manifest_of(obj):
    """The manifest as a user wrote it: without status and server-set metadata."""
    manifest = copy.deepcopy(obj)
    manifest.pop("status", None)
    metadata = manifest.get("metadata") or {}
    for key in ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                "selfLink"):
        metadata.pop(key, None)
    return manifest
