"""The sandbox handle, and what tests and scripts read from the cluster through it.

``Sandbox`` (kubesandbox.fixtures) is the one handle: kubeconfig, Traefik, Prometheus and control
URLs, kubectl, the fault and request-log API. ``start_sandbox``/``stop_sandbox``/``owned_sandbox``
start one in a directory and stop it by its PID files.
"""
import json
import re
import time
import urllib.request

from kubesandbox.fixtures import Sandbox, http, owned_sandbox, start_sandbox, stop_sandbox

from .timeouts import guard

__all__ = ["Sandbox", "canary_events", "get_json", "http", "owned_sandbox", "prometheus_query_count",
           "start_sandbox", "stop_sandbox", "wait_for_series", "wait_until"]


def get_json(sandbox, namespace, *what):
    """``kubectl get`` of ``what`` in ``namespace`` as JSON; fails the caller when kubectl fails."""
    return json.loads(sandbox.kubectl("-n", namespace, "get", *what, "-o", "json").stdout)


def wait_until(predicate, timeout=30, interval=0.2, what="condition"):
    """The first true value of ``predicate()`` within ``timeout`` seconds (stretched by ``guard``)."""
    timeout = guard(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def canary_events(sandbox, namespace, name="podinfo"):
    """Messages of the Events about the Canary, oldest first; an Event that Kubernetes aggregated
    (count > 1, as for a repeated identical Halt) appears as many times as it happened."""
    out = sandbox.kubectl("-n", namespace, "get", "events", "-o", "json").stdout
    items = [e for e in json.loads(out)["items"]
             if e.get("involvedObject", {}).get("kind") == "Canary"
             and e["involvedObject"].get("name") == name]
    items.sort(key=lambda e: (e.get("firstTimestamp") or e["metadata"]["creationTimestamp"],
                              int(e["metadata"]["resourceVersion"])))
    return [e["message"] for e in items for _repeat in range(int(e.get("count") or 1))]


def prometheus_query_count(sandbox, with_range=False):
    """How many queries Prometheus has answered (instant ones, and range ones with ``with_range``),
    from its own counter in /metrics: reading it is not a query."""
    handler = re.compile(r'handler="/api/v1/query{0}"'.format("(_range)?" if with_range else ""))
    with urllib.request.urlopen(sandbox.prometheus_url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("prometheus_http_requests_total{") and handler.search(line):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_for_series(sandbox, query, timeout=30, samples=3):
    """Wait until Prometheus returns a series for ``query`` that has seen ``samples`` scrapes."""
    timeout = guard(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sandbox.prometheus_query(query)
        if found:
            count = sandbox.prometheus_query(f"count_over_time(({query})[30s:1s])")
            if count and float(count[0]["value"][1]) >= samples:
                return found
        time.sleep(0.5)
    raise AssertionError(f"Prometheus has no series for {query} after {timeout}s")
