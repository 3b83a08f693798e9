# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flagger's own Prometheus metrics, pushed to a Prometheus Pushgateway (private to this collection).

Flagger's controller serves ``flagger_canary_*`` on its /metrics for Prometheus to scrape. A
playbook run leaves no process behind, so the modules push the same series, with the same names,
labels and values, to a Pushgateway at the moments Flagger's scheduler updates them. Each Canary
is one group (``job``, ``namespace``, ``name`` = the target's name), so a push replaces only that
Canary's series; ``flagger_canary_total`` is a group per namespace. A push uses POST, which
replaces the pushed metric names within the group and keeps the others.

Counters and the duration histogram continue from the values the Pushgateway holds for the group,
so ``rate()`` and ``increase()`` see each release. A failed push is reported, never fatal.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import math

from ansible.module_utils.six.moves.urllib.parse import quote, urlsplit, urlunsplit
from ansible.module_utils.urls import open_url

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    get_resource,
    list_objects,
)

DEFAULT_JOB = "flagger"
# Prometheus's client_golang default buckets, which Flagger's duration histogram uses.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

STATUS = "flagger_canary_status"
WEIGHT = "flagger_canary_weight"
TOTAL = "flagger_canary_total"
DURATION = "flagger_canary_duration_seconds"
ANALYSIS = "flagger_canary_metric_analysis"
SUCCESSES = "flagger_canary_successes_total"
FAILURES = "flagger_canary_failures_total"

HELP = {
    STATUS: "Last canary analysis result",
    WEIGHT: "The virtual service destination weight current value",
    TOTAL: "Total number of canary object",
    DURATION: "Seconds spent performing canary analysis.",
    ANALYSIS: "Last canary analysis result per metric",
    SUCCESSES: "Total number of canary successes",
    FAILURES: "Total number of canary failures",
}

# Flagger's gauge: 0 while the analysis runs, 2 once failed, 1 for every other phase.
PHASE_STATUS = {"Progressing": 0, "Failed": 2}
BUILTIN_DURATION = "request-duration"


def status_value(phase):
    return PHASE_STATUS.get(phase, 1)


def deployment_strategy(canary):
    """Flagger's ``deployment_strategy`` label: ab-testing, blue-green or canary."""
    analysis = canary.get("analysis") or {}
    if analysis.get("iterations"):
        return "ab-testing" if analysis.get("match") else "blue-green"
    return "canary"


def format_value(value):
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _escape(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _sample_line(name, labels, value):
    inner = ",".join('{0}="{1}"'.format(key, _escape(val)) for key, val in labels)
    return "{0}{{{1}}} {2}".format(name, inner, format_value(value))


def render(families):
    """The text exposition format (version 0.0.4) of ``families``.

    Each family is ``(name, type, samples)``; a sample is ``(labels, value)`` for a gauge or a
    counter, with ``labels`` a list of pairs, and ``(labels, buckets, count, sum)`` for a
    histogram, ``buckets`` the cumulative counts per upper bound (``DURATION_BUCKETS``).
    """
    lines = []
    for name, kind, samples in families:
        lines.append("# HELP {0} {1}".format(name, HELP.get(name, name)))
        lines.append("# TYPE {0} {1}".format(name, kind))
        for sample in samples:
            if kind != "histogram":
                lines.append(_sample_line(name, *sample))
                continue
            labels, buckets, count, total = sample
            for bound, cumulative in zip(DURATION_BUCKETS, buckets):
                lines.append(_sample_line(name + "_bucket", labels + [("le", format_value(bound))],
                                          cumulative))
            lines.append(_sample_line(name + "_bucket", labels + [("le", "+Inf")], count))
            lines.append(_sample_line(name + "_sum", labels, total))
            lines.append(_sample_line(name + "_count", labels, count))
    return "\n".join(lines) + "\n"


def observe(histogram, seconds):
    """``histogram`` (buckets, count, sum) with one more observation of ``seconds``."""
    buckets, count, total = histogram
    buckets = [cumulative + (1 if seconds <= bound else 0)
               for bound, cumulative in zip(DURATION_BUCKETS, buckets)]
    return buckets, count + 1, total + seconds


def empty_histogram():
    return [0] * len(DURATION_BUCKETS), 0, 0.0


def _path_segment(key, value):
    # The Pushgateway's URL encoding of a grouping label; base64 for values a path cannot carry.
    value = str(value)
    if not value or "/" in value:
        encoded = base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii") or "="
        return "{0}@base64/{1}".format(key, encoded)
    return "{0}/{1}".format(key, quote(value, safe=""))


class PushError(Exception):
    pass


def shown_url(url):
    """``url`` as a message may show it: no user, password or query string."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += ":{0}".format(parts.port)
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class Pushgateway(object):
    """A Pushgateway as the ``pushgateway`` option configures it."""

    def __init__(self, url, job=DEFAULT_JOB, headers=None, username=None, password=None,
                 bearer_token=None, ca_cert=None, validate_certs=True, timeout=5.0,
                 transport=None):
        if not url or not url.startswith(("http://", "https://")):
            raise ValueError("pushgateway.url must be an http:// or https:// URL; got {0!r}".format(url))
        if urlsplit(url).query or urlsplit(url).fragment:
            raise ValueError("pushgateway.url must have no query string or fragment: the group's "
                             "path is appended to it; got {0}".format(shown_url(url)))
        self.url = url.rstrip("/")
        self.job = job or DEFAULT_JOB
        self.headers = dict(headers or {})
        if bearer_token:
            self.headers["Authorization"] = "Bearer {0}".format(bearer_token)
        self.username = username
        self.password = password
        self.ca_cert = ca_cert
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.transport = transport or self._open

    @classmethod
    def from_params(cls, params):
        """The configured Pushgateway, or None when the option is not set."""
        settings = params.get("pushgateway")
        if not settings or not settings.get("url"):
            return None
        validate = settings.get("validate_certs")
        return cls(settings["url"], job=settings.get("job"), headers=settings.get("headers"),
                   username=settings.get("username"), password=settings.get("password"),
                   bearer_token=settings.get("bearer_token"), ca_cert=settings.get("ca_cert"),
                   validate_certs=True if validate is None else validate,
                   timeout=settings.get("timeout") or 5.0)

    def group_url(self, grouping):
        path = [_path_segment("job", self.job)] + [_path_segment(k, v) for k, v in grouping]
        return "{0}/metrics/{1}".format(self.url, "/".join(path))

    def _open(self, method, url, body=None, headers=None):
        try:
            response = open_url(url, data=body, headers=headers, method=method,
                                validate_certs=self.validate_certs, ca_path=self.ca_cert,
                                url_username=self.username, url_password=self.password,
                                force_basic_auth=bool(self.username), timeout=self.timeout)
            return response.read()
        except Exception as exc:  # open_url raises HTTPError, URLError, SSL and socket errors
            code = getattr(exc, "code", None)
            raise PushError("{0} {1} failed: {2}".format(
                method, shown_url(url), "HTTP {0}".format(code) if code else exc))

    def post(self, grouping, families):
        headers = dict(self.headers)
        headers["Content-Type"] = "text/plain; version=0.0.4"
        self.transport("POST", self.group_url(grouping), render(families).encode("utf-8"), headers)

    def group_metrics(self, grouping):
        """The metric families the Pushgateway holds for the group, as its API returns them."""
        wanted = dict([("job", self.job)] + [(k, str(v)) for k, v in grouping])
        body = self.transport("GET", self.url + "/api/v1/metrics", None, dict(self.headers))
        try:
            groups = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)["data"]
        except (ValueError, KeyError, TypeError):
            raise PushError("the Pushgateway's /api/v1/metrics did not return its groups")
        for group in groups or []:
            if group.get("labels") == wanted:
                return group
        return {}


def _find(group, name, labels):
    """The Pushgateway's entry for the series ``name`` with ``labels`` in ``group``, or None."""
    for metric in (group.get(name) or {}).get("metrics") or []:
        have = metric.get("labels") or {}
        if all(have.get(key) == str(value) for key, value in labels):
            return metric
    return None


class CanaryMetrics(object):
    """The Flagger metrics of one Canary; each method pushes what Flagger's recorder sets at the
    same moment and returns the names pushed. Raises PushError."""

    def __init__(self, gateway, canary):
        self.gateway = gateway
        self.canary = canary
        self.target = canary["target"]["name"]
        self.namespace = canary["namespace"]
        self.grouping = [("namespace", self.namespace), ("name", self.target)]
        self.labels = [("name", self.target), ("namespace", self.namespace)]

    def _push(self, families):
        self.gateway.post(self.grouping, families)
        return [family[0] for family in families]

    def weight_family(self, canary_weight):
        canary_weight = int(canary_weight or 0)
        return (WEIGHT, "gauge", [
            ([("workload", self.target + "-primary"), ("namespace", self.namespace)],
             100 - canary_weight),
            ([("workload", self.target), ("namespace", self.namespace)], canary_weight),
        ])

    def status_family(self, phase):
        return (STATUS, "gauge", [(self.labels, status_value(phase))])

    def _counter_family(self, name, outcome_labels):
        previous = _find(self.gateway.group_metrics(self.grouping), name, outcome_labels)
        value = float((previous or {}).get("value") or 0) + 1
        return (name, "counter", [(outcome_labels, value)])

    def record_status(self, phase, canary_weight, finished=None):
        """The phase and weight of the Canary's status; ``finished`` (``succeeded`` or
        ``failed``) also counts the release as Flagger's successes or failures counter does."""
        families = [self.weight_family(canary_weight)]
        if phase:
            families.insert(0, self.status_family(phase))
        if finished:
            skipped = finished == "succeeded" and self.canary.get("skip_analysis")
            outcome = self.labels + [
                ("deployment_strategy", deployment_strategy(self.canary)),
                ("analysis_status", "skipped" if skipped else "completed")]
            families.append(self._counter_family(
                SUCCESSES if finished == "succeeded" else FAILURES, outcome))
        return self._push(families)

    def record_weight(self, canary_weight):
        return self._push([self.weight_family(canary_weight)])

    def record_tick(self, metrics, seconds):
        """One analysis tick: the value of each metric measured (a built-in request duration in
        seconds, as Flagger records it) and the time spent analysing."""
        builtin_durations = set(
            m["name"] for m in (self.canary.get("analysis") or {}).get("metrics") or []
            if m.get("name") == BUILTIN_DURATION and not m.get("template_ref") and not m.get("query"))
        samples = []
        for metric in metrics or []:
            value = metric.get("value")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if metric.get("name") in builtin_durations:
                value = value / 1000.0
            samples.append((self.labels + [("metric", metric["name"])], value))
        previous = _find(self.gateway.group_metrics(self.grouping), DURATION, self.labels)
        histogram = empty_histogram()
        if previous:
            bounds = previous.get("buckets") or {}
            histogram = ([float(bounds.get(format_value(b), bounds.get(str(float(b)), 0)))
                          for b in DURATION_BUCKETS],
                         float(previous.get("count") or 0), float(previous.get("sum") or 0))
        families = [(DURATION, "histogram",
                     [(self.labels,) + tuple(observe(histogram, max(seconds, 0.0)))])]
        if samples:
            families.insert(0, (ANALYSIS, "gauge", samples))
        return self._push(families)

    def record_total(self, count):
        """Flagger's number of Canaries in the namespace, a group of its own."""
        self.gateway.post([("namespace", self.namespace)],
                          [(TOTAL, "gauge", [([("namespace", self.namespace)], count)])])
        return [TOTAL]


def canary_metrics(params, canary):
    """The CanaryMetrics of the module's O(pushgateway), or None when it is not set; a malformed
    setting is refused before anything else happens."""
    try:
        gateway = Pushgateway.from_params(params)
    except ValueError as exc:
        raise InvalidInput(str(exc))
    return CanaryMetrics(gateway, canary) if gateway is not None else None


def count_canaries(client, namespace):
    return len(list_objects(get_resource(client, "flagger.app/v1beta1", "Canary"), namespace))


def push_safely(module, result, action):
    """Run ``action`` (a callable returning the names pushed); a failure becomes a warning and
    ``result["pushgateway"]`` says what was pushed, as a release never stops for its metrics."""
    outcome = result.setdefault("pushgateway", {"pushed": [], "problems": []})
    try:
        outcome["pushed"].extend(action())
    except (PushError, DeliveryError) as exc:
        message = "Flagger metrics not pushed to the Pushgateway: {0}".format(exc)
        outcome["problems"].append(message)
        module.warn(message)
