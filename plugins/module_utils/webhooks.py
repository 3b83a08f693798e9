# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canary webhooks with Flagger's semantics (private to this collection).

A hook is an HTTP POST of a small JSON document; it passes when the answer's status is 202 or
lower. Gates (confirm-*) only ever hold a release, pre-rollout and rollout hooks count as failed
checks, and a rollback hook that *passes* asks for a rollback.

Controllers of this collection usually run outside the cluster, where Service names such as
``flagger-loadtester.test`` do not resolve. Such URLs are sent through the API server's service
proxy with the caller's Kubernetes credentials, so Canary manifests written for Flagger work
unchanged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import dataclasses
import json
import re
import socket
import time

from ansible_collections.progressive.delivery.plugins.module_utils.requests_compat import (
    HAS_REQUESTS,
    requests,
)

try:  # Python 3
    from urllib.parse import quote, urlsplit, urlunsplit
except ImportError:  # pragma: no cover - Python 2 is not supported by ansible-core 2.16+
    from urlparse import urlsplit, urlunsplit  # type: ignore
    from urllib import quote  # type: ignore

ROLLOUT = "rollout"
HOOK_TYPES = (
    "confirm-rollout",
    "pre-rollout",
    ROLLOUT,
    "confirm-traffic-increase",
    "confirm-promotion",
    "post-rollout",
    "rollback",
    "event",
)
GATE_TYPES = ("confirm-rollout", "confirm-traffic-increase", "confirm-promotion")

# Flagger's own default when a hook sets no timeout.
DEFAULT_TIMEOUT_SECONDS = 10
# Flagger passes 2xx up to 202 only: 202 is what its loadtester answers for background commands.
HIGHEST_PASSING_STATUS = 202
CLUSTER_URL_ACCESS = ("auto", "api_proxy", "direct")
OUTPUT_LIMIT = 64 * 1024

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class WebhookError(Exception):
    """A hook could not be sent at all (bad URL, no connection, timeout)."""


def hook_type_of(hook):
    """Flagger treats a hook without a type as a rollout hook."""
    return hook.get("type") or ROLLOUT


def select_hooks(hooks, hook_type):
    return [hook for hook in (hooks or []) if hook_type_of(hook) == hook_type]


def build_payload(name, namespace, phase, checksum, metadata=None):
    """The JSON document Flagger POSTs to every hook."""
    return {
        "name": name,
        "namespace": namespace,
        "phase": phase,
        "checksum": checksum or "",
        "metadata": dict(metadata or {}),
    }


def build_event_payload(name, namespace, phase, checksum, message, event_type,
                        metadata=None, now=None):
    """Payload of an ``event`` hook: the event travels in ``metadata``, as in Flagger.

    The hook's own metadata is added only where it does not clash with the event keys, so a
    receiver can always rely on ``eventMessage``, ``eventType`` and ``timestamp``.
    """
    when = time.time() if now is None else now
    event = {
        "eventMessage": message,
        "eventType": event_type,
        "timestamp": str(int(when * 1000)),
    }
    for key, value in (metadata or {}).items():
        event.setdefault(key, value)
    return build_payload(name, namespace, phase, checksum, event)


def redact_url(url):
    """Hide the query string and credentials: webhook keys usually travel there."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def url_secrets(url):
    """The parts of a URL that must never be shown: its query string and password.

    Modules add them to Ansible's no_log values, so a webhook URL in a Canary passed as a task
    option is masked in the invocation that ``-v`` prints, not only in our own results.
    """
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return [url] if url else []
    found = [parts.query] if parts.query else []
    if parts.password:
        found.append(parts.password)
    return found


def hide_url_secrets(module, hooks):
    ansible_module = getattr(module, "_module", module)
    for hook in hooks or []:
        for value in url_secrets(hook.get("url")):
            ansible_module.no_log_values.add(value)


@dataclasses.dataclass(eq=False)
class ClusterTarget:
    """A URL that names a cluster Service: ``http://svc.ns[.svc[.cluster.local]][:port]/path``."""

    scheme: str
    service: str
    namespace: str
    port: int
    path: str
    query: str

    def proxy_path(self):
        """The API server's service proxy path for this URL.

        The Service is addressed by port number, which the API server resolves against the
        Service's ports; ``https:`` tells it to speak TLS to the backend.
        """
        service = "{0}:{1}".format(self.service, self.port)
        if self.scheme == "https":
            service = "https:" + service
        path = self.path.lstrip("/")
        return "/api/v1/namespaces/{0}/services/{1}/proxy/{2}".format(
            quote(self.namespace, safe=""), quote(service, safe=":"), path
        )

    def __repr__(self):
        return "ClusterTarget({0}.{1}:{2}{3})".format(
            self.service, self.namespace, self.port, self.path
        )


def parse_cluster_url(url):
    """Return a ClusterTarget when the URL's host has the shape of a cluster Service name."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    labels = parts.hostname.lower().split(".")
    if labels[-2:] == ["cluster", "local"]:
        labels = labels[:-2]
        if labels[-1:] != ["svc"]:
            return None
    if labels[-1:] == ["svc"]:
        labels = labels[:-1]
    if len(labels) != 2 or not all(_DNS_LABEL.match(label) for label in labels):
        return None
    if labels[1].isdigit():  # an IP address fragment, never a namespace
        return None
    service, namespace = labels
    return ClusterTarget(
        parts.scheme,
        service,
        namespace,
        port or _DEFAULT_PORTS[parts.scheme],
        parts.path or "/",
        parts.query,
    )


def host_resolves(host):
    try:
        socket.getaddrinfo(host, None)
        return True
    except (socket.gaierror, UnicodeError):
        return False


def choose_route(url, access="auto", resolves=host_resolves):
    """Decide how to reach ``url``: ``("direct", None)`` or ``("api_proxy", ClusterTarget)``.

    ``auto`` proxies only cluster-shaped hosts that do not resolve here, so a controller running
    inside the cluster (where they do resolve) talks to the Service directly.
    """
    if access not in CLUSTER_URL_ACCESS:
        raise ValueError(
            "cluster_url_access must be one of {0}; got '{1}'".format(
                ", ".join(CLUSTER_URL_ACCESS), access
            )
        )
    if access == "direct":
        return "direct", None
    target = parse_cluster_url(url)
    if target is None:
        return "direct", None
    if access == "api_proxy":
        return "api_proxy", target
    host = urlsplit(url).hostname
    if resolves(host):
        return "direct", None
    return "api_proxy", target


def _retryable(status):
    # The retry policy Flagger's HTTP client uses: rate limits and server errors, except
    # "not implemented", which will not change by asking again.
    return status == 429 or (status >= 500 and status != 501)


class WebhookSender:
    """Sends hook payloads directly or through the API server's service proxy.

    ``api_client`` is a callable returning a ``kubernetes.client.ApiClient``; it is only called
    when a URL actually needs the proxy, so hooks with ordinary URLs work without a kubeconfig.
    """

    def __init__(self, api_client=None, access="auto", resolves=host_resolves, sleep=time.sleep):
        if access not in CLUSTER_URL_ACCESS:
            raise ValueError(
                "cluster_url_access must be one of {0}; got '{1}'".format(
                    ", ".join(CLUSTER_URL_ACCESS), access
                )
            )
        self._api_client_factory = api_client
        self._api_client = None
        self.access = access
        self._resolves = resolves
        self._sleep = sleep

    def route(self, url):
        return choose_route(url, self.access, self._resolves)

    def post(self, url, payload, timeout=DEFAULT_TIMEOUT_SECONDS, retries=0, disable_tls=False):
        """POST ``payload``; return ``(status, body_text, route)``. Raises WebhookError."""
        route, target = self.route(url)
        attempt = 0
        while True:
            try:
                if route == "api_proxy":
                    status, body = self._post_via_proxy(target, payload, timeout)
                else:
                    status, body = self._post_direct(url, payload, timeout, disable_tls)
            except WebhookError:
                if attempt >= retries:
                    raise
            else:
                if attempt >= retries or not _retryable(status):
                    return status, body, route
            attempt += 1
            self._sleep(min(2 ** (attempt - 1), 30))

    def _post_direct(self, url, payload, timeout, disable_tls):
        if not HAS_REQUESTS:
            raise WebhookError("the requests library is required to call webhooks")
        try:
            response = requests.post(
                url,
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
                timeout=timeout,
                verify=not disable_tls,
                allow_redirects=False,
            )
        except requests.exceptions.Timeout:
            raise WebhookError("no answer within {0}s".format(_seconds(timeout)))
        except requests.exceptions.RequestException as exc:
            raise WebhookError(_connection_message(exc))
        return response.status_code, response.text

    def _client(self):
        if self._api_client is None:
            if self._api_client_factory is None:
                raise WebhookError(
                    "this URL names a cluster Service that does not resolve here, and no "
                    "Kubernetes connection is available to reach it through the API server"
                )
            try:
                self._api_client = self._api_client_factory()
            except Exception as exc:  # a kubeconfig problem must fail this hook, not the task
                raise WebhookError(
                    "this URL needs the API server's service proxy, but connecting to "
                    "Kubernetes failed: {0}".format(exc)
                )
        return self._api_client

    def _post_via_proxy(self, target, payload, timeout):
        client = self._client()
        query = []
        if target.query:
            query = [tuple(pair.split("=", 1)) if "=" in pair else (pair, "")
                     for pair in target.query.split("&") if pair]
        try:
            request = client.param_serialize(
                "POST",
                target.proxy_path(),
                query_params=query,
                header_params={"Content-Type": "application/json", "Accept": "*/*"},
                body=payload,
                auth_settings=["BearerToken"],
            )
            response = client.call_api(*request, _request_timeout=timeout)
            data = response.read()
        except Exception as exc:  # urllib3 raises many kinds; all mean "not delivered"
            if "timeout" in str(exc).lower() or "timed out" in str(exc).lower():
                raise WebhookError(
                    "no answer within {0}s through the API server's service proxy".format(
                        _seconds(timeout)
                    )
                )
            raise WebhookError(
                "could not reach the API server's service proxy: {0}".format(
                    _connection_message(exc)
                )
            )
        if isinstance(data, bytes):
            data = data.decode("utf-8", "replace")
        return response.status, data or ""


def _seconds(value):
    return int(value) if float(value).is_integer() else value


def _connection_message(exc):
    # requests wraps urllib3 wraps socket errors; the innermost reason is what a user can act on
    reason = exc
    for _depth in range(4):
        inner = getattr(reason, "reason", None) or (reason.args[0] if reason.args else None)
        if isinstance(inner, BaseException) and inner is not reason:
            reason = inner
        else:
            break
    text = str(reason)
    # urllib3 prefixes the connection object's repr; keep what follows it
    if ">: " in text:
        text = text.split(">: ", 1)[1]
    return text.strip() or exc.__class__.__name__


def payload_for(hook, payload):
    """The payload for one hook: the hook's own metadata, without overriding keys the base
    payload already carries (the event keys of ``event`` hooks)."""
    final = dict(payload)
    metadata = dict(payload.get("metadata") or {})
    for key, value in (hook.get("metadata") or {}).items():
        metadata.setdefault(key, value)
    final["metadata"] = metadata
    return final


def wants_output(hook):
    return str((hook.get("metadata") or {}).get("logCmdOutput", "")).lower() == "true"


def call_hook(sender, hook, payload, default_timeout=DEFAULT_TIMEOUT_SECONDS):
    """Call one hook with ``payload`` plus the hook's metadata; describe the outcome."""
    name = hook.get("name") or "unnamed"
    url = hook.get("url") or ""
    timeout = hook.get("timeout_seconds") or default_timeout
    result = {
        "name": name,
        "type": hook_type_of(hook),
        "url": redact_url(url),
        "route": None,
        "status": None,
        "passed": False,
        "msg": "",
        "output": "",
        "duration": 0.0,
    }
    started = time.time()
    try:
        status, body, route = sender.post(
            url,
            payload_for(hook, payload),
            timeout=timeout,
            retries=int(hook.get("retries") or 0),
            disable_tls=bool(hook.get("disable_tls")),
        )
    except WebhookError as exc:
        result["route"] = _safe_route(sender, url)
        result["msg"] = "{0} webhook could not be called: {1}".format(name, exc)
        result["error"] = flagger_error(url, None, "", int(hook.get("retries") or 0), exc)
        result["duration"] = round(time.time() - started, 3)
        return result
    result["route"] = route
    result["duration"] = round(time.time() - started, 3)
    result["status"] = status
    result["passed"] = status <= HIGHEST_PASSING_STATUS
    body = (body or "")[:OUTPUT_LIMIT]
    if wants_output(hook):
        result["output"] = body
    if result["passed"]:
        result["msg"] = "{0} webhook answered HTTP {1}".format(name, status)
    else:
        said = body.strip() or "no response body"
        result["msg"] = "{0} webhook failed with HTTP {1}: {2}".format(name, status, said)
        result["error"] = flagger_error(url, status, body, int(hook.get("retries") or 0))
    return result


def flagger_error(url, status, body, retries, exc=None):
    """What Flagger's webhook client says of a failed call, the detail of its Halt and
    post-rollout Events: a status its retrying HTTP client retries (429, 5xx but 501) or a hook it
    could not reach ends as ``POST <url> giving up after <n> attempt(s)`` (with the reason when
    unreachable); any other failing status is the response body, as Flagger reports it."""
    if exc is not None or _retryable(status):
        said = "POST {0} giving up after {1} attempt(s)".format(redact_url(url), retries + 1)
        return said + (": {0}".format(exc) if exc is not None else "")
    return (body or "").strip()


def _safe_route(sender, url):
    try:
        return sender.route(url)[0]
    except ValueError:
        return None


def run_webhooks(hooks, hook_type, payload, sender=None, timeout=DEFAULT_TIMEOUT_SECONDS):
    """Run every hook of ``hook_type`` in order, the way Flagger's scheduler does.

    Gates and checks stop at the first hook that fails, rollback hooks stop at the first one that
    passes (it asked for a rollback), event hooks are all called. Returns a summary dict:

    - ``passed``: every called hook passed (vacuously true without hooks);
    - ``rollback_requested``: for rollback hooks, one of them passed;
    - ``results``: one dict per called hook; ``not_called``: names left out by the early stop;
    - ``failed``: the first failing result or None.
    """
    if hook_type not in HOOK_TYPES:
        raise ValueError(
            "type must be one of {0}; got '{1}'".format(", ".join(HOOK_TYPES), hook_type)
        )
    sender = sender or WebhookSender(access="direct")
    selected = select_hooks(hooks, hook_type)
    results = []
    not_called = []
    failed = None
    rollback_requested = False
    for index, hook in enumerate(selected):
        result = call_hook(sender, hook, payload, default_timeout=timeout)
        results.append(result)
        if hook_type == "rollback":
            if result["passed"]:
                rollback_requested = True
                not_called = [h.get("name") for h in selected[index + 1:]]
                break
            continue
        if not result["passed"] and failed is None:
            failed = result
            if hook_type != "event":
                not_called = [h.get("name") for h in selected[index + 1:]]
                break
    if hook_type == "rollback":
        passed = True
    else:
        passed = failed is None
    return {
        "type": hook_type,
        "passed": passed,
        "rollback_requested": rollback_requested,
        "results": results,
        "not_called": not_called,
        "failed": failed,
    }


def plan_webhooks(hooks, hook_type, sender):
    """What ``run_webhooks`` would call, without calling anything (check mode)."""
    plan = []
    for hook in select_hooks(hooks, hook_type):
        url = hook.get("url") or ""
        try:
            route = sender.route(url)[0]
        except ValueError:
            route = None
        plan.append({
            "name": hook.get("name") or "unnamed",
            "type": hook_type,
            "url": redact_url(url),
            "route": route,
            "status": None,
            "passed": None,
            "msg": "would POST to {0} ({1}); not called in check mode".format(
                redact_url(url), route
            ),
            "output": "",
            "duration": 0.0,
        })
    return plan
