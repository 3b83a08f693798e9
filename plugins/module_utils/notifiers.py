# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Chat alerts in the shapes Flagger's alert providers send (private to this collection).

Teams migrating from Flagger keep their incoming-webhook URLs and channel formatting: Slack,
Discord (through its Slack-compatible endpoint) and Rocket.Chat receive Slack attachments,
Microsoft Teams a MessageCard, Google Chat a card. Webhook URLs carry the secret, so they never
appear in messages returned by this module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

from ansible_collections.progressive.delivery.plugins.module_utils.requests_compat import (
    HAS_REQUESTS,
    requests,
)

try:
    from urllib.parse import urlsplit, urlunsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit, urlunsplit  # type: ignore

PROVIDERS = ("slack", "msteams", "discord", "rocket", "gchat")
SEVERITIES = ("info", "warn", "error")
DEFAULT_USERNAME = "flagger"
DEFAULT_TIMEOUT_SECONDS = 5

# Slack understands these colour names; Rocket.Chat and Teams want hex.
_SLACK_COLORS = {"info": "good", "warn": "warning", "error": "danger"}
_HEX_COLORS = {"info": "0076D7", "warn": "FFA500", "error": "FF0000"}


class NotifierError(Exception):
    """The alert could not be delivered; the message never contains the URL."""


def severity_matches(alert_severity, event_severity):
    """Flagger's filter: an ``info`` alert gets everything, ``warn`` gets warnings and errors,
    ``error`` only errors."""
    if alert_severity not in SEVERITIES or event_severity not in SEVERITIES:
        raise ValueError(
            "severity must be one of {0}".format(", ".join(SEVERITIES))
        )
    return SEVERITIES.index(event_severity) >= SEVERITIES.index(alert_severity)


def normalize_fields(fields):
    """Accept ``{name: value}`` or ``[{name, value}]``; keep the order the user gave."""
    if not fields:
        return []
    if isinstance(fields, dict):
        return [{"name": str(k), "value": str(v)} for k, v in fields.items()]
    out = []
    for index, field in enumerate(fields):
        if not isinstance(field, dict) or "name" not in field or "value" not in field:
            raise ValueError(
                "fields[{0}] must be a dict with keys name and value".format(index)
            )
        out.append({"name": str(field["name"]), "value": str(field["value"])})
    return out


def _subject(workload, namespace):
    return "{0}.{1}".format(workload, namespace)


def _slack_style(workload, namespace, message, fields, color, username, channel):
    return {
        "channel": channel or "",
        "username": username or DEFAULT_USERNAME,
        "icon_url": "",
        "icon_emoji": ":rocket:",
        "attachments": [{
            "color": color,
            "author_name": _subject(workload, namespace),
            "text": message,
            "mrkdwn_in": ["text"],
            "fields": [
                {"title": f["name"], "value": f["value"], "short": False} for f in fields
            ],
        }],
    }


def slack_payload(workload, namespace, message, fields, severity, username=None, channel=None):
    return _slack_style(workload, namespace, message, fields, _SLACK_COLORS[severity],
                        username, channel)


def discord_payload(workload, namespace, message, fields, severity, username=None, channel=None):
    # Discord accepts Slack's format on the webhook URL + "/slack"; see discord_url().
    return _slack_style(workload, namespace, message, fields, _SLACK_COLORS[severity],
                        username, channel)


def rocket_payload(workload, namespace, message, fields, severity, username=None, channel=None):
    return _slack_style(workload, namespace, message, fields, "#" + _HEX_COLORS[severity],
                        username, channel)


def msteams_payload(workload, namespace, message, fields, severity, username=None, channel=None):
    return {
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": _HEX_COLORS[severity],
        "summary": _subject(workload, namespace),
        "sections": [{
            "activityTitle": message,
            "activitySubtitle": _subject(workload, namespace),
            "facts": [{"name": f["name"], "value": f["value"]} for f in fields],
        }],
    }


def gchat_payload(workload, namespace, message, fields, severity, username=None, channel=None):
    sections = [{"widgets": [{"textParagraph": {
        "text": "<font color=#848484><strong>{0}</strong></font>".format(message)
    }}]}]
    for f in fields:
        sections.append({"widgets": [{"textParagraph": {
            "text": "{0}<br><font color=#848484><strong>{1}</strong></font>".format(
                f["name"], f["value"]
            )
        }}]})
    return {
        "cards": [{
            "header": {
                "title": username or DEFAULT_USERNAME,
                "subtitle": _subject(workload, namespace),
            },
            "sections": sections,
        }]
    }


PAYLOAD_BUILDERS = {
    "slack": slack_payload,
    "msteams": msteams_payload,
    "discord": discord_payload,
    "rocket": rocket_payload,
    "gchat": gchat_payload,
}


def discord_url(url):
    """Discord's Slack-compatible endpoint is the webhook URL with ``/slack`` appended."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if not path.endswith("/slack"):
        path += "/slack"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def build_alert(provider, workload, namespace, message, fields=None, severity="info",
                username=None, channel=None):
    """Return the JSON body ``provider`` expects. Raises ValueError naming the bad field."""
    if provider not in PAYLOAD_BUILDERS:
        raise ValueError(
            "provider must be one of {0}; got '{1}'".format(", ".join(PROVIDERS), provider)
        )
    if severity not in SEVERITIES:
        raise ValueError(
            "severity must be one of {0}; got '{1}'".format(", ".join(SEVERITIES), severity)
        )
    return PAYLOAD_BUILDERS[provider](
        workload, namespace, message, normalize_fields(fields), severity, username, channel
    )


def validate_url(url, field="url"):
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        # the value is a secret: name the field, never echo it
        raise ValueError("{0} must be an http:// or https:// URL".format(field))


def post_alert(provider, url, payload, token=None, proxy=None, timeout=DEFAULT_TIMEOUT_SECONDS,
               validate_certs=True):
    """Deliver ``payload``; return the HTTP status. Raises NotifierError on any failure."""
    if not HAS_REQUESTS:
        raise NotifierError("the requests library is required to send alerts")
    validate_url(url)
    if provider == "discord":
        url = discord_url(url)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer {0}".format(token)
    proxies = {"http": proxy, "https": proxy} if proxy else None
    try:
        response = requests.post(
            url,
            data=json.dumps(payload),
            headers=headers,
            proxies=proxies,
            timeout=timeout,
            verify=validate_certs,
        )
    except requests.exceptions.Timeout:
        raise NotifierError("{0} did not answer within {1}s".format(provider, timeout))
    except requests.exceptions.ProxyError:
        raise NotifierError("could not send the {0} alert through the proxy".format(provider))
    except requests.exceptions.RequestException as exc:
        raise NotifierError(
            "could not send the {0} alert: {1}".format(provider, exc.__class__.__name__)
        )
    if not 200 <= response.status_code < 300:
        body = (response.text or "").strip()[:500]
        raise NotifierError(
            "{0} rejected the alert with HTTP {1}: {2}".format(
                provider, response.status_code, body or "no response body"
            )
        )
    return response.status_code


# --- Flagger's AlertProvider objects -------------------------------------------------------

ALERT_PROVIDER_API_VERSION = "flagger.app/v1beta1"
# Flagger's defaults for an AlertProvider that leaves them out.
DEFAULT_CHANNEL = "general"


def target_from_alert_provider(alert, provider_obj, secret=None):
    """One delivery target from a Canary's ``analysis.alerts`` entry and its AlertProvider.

    A Secret named by ``spec.secretRef`` overrides the address (key ``address``) and supplies
    the token (key ``token``), as in Flagger. Raises ValueError naming the problem.
    """
    ref = alert.get("provider_ref") or {}
    where = "AlertProvider {0}/{1}".format(ref.get("namespace"), ref.get("name"))
    spec = (provider_obj or {}).get("spec") or {}
    kind = spec.get("type")
    if kind not in PROVIDERS:
        raise ValueError("{0} spec.type must be one of {1}; got {2!r}".format(
            where, ", ".join(PROVIDERS), kind))
    url = spec.get("address")
    token = None
    if secret is not None:
        data = secret.get("data") or {}
        if data.get("address"):
            url = base64.b64decode(data["address"]).decode("utf-8").strip()
        elif not url:
            raise ValueError("{0} secret does not contain an address".format(where))
        if data.get("token"):
            token = base64.b64decode(data["token"]).decode("utf-8").strip()
    if not url:
        raise ValueError("{0} has no spec.address and no secretRef".format(where))
    return {
        "name": alert.get("name") or ref.get("name"),
        "provider": kind,
        "url": url,
        "token": token,
        "proxy": spec.get("proxy") or None,
        "username": spec.get("username") or DEFAULT_USERNAME,
        "channel": spec.get("channel") or DEFAULT_CHANNEL,
        "alert_severity": alert.get("severity") or "info",
    }


def resolve_alert_target(alert, get):
    """The delivery target of one ``analysis.alerts`` entry, reading its AlertProvider and the
    provider's Secret with ``get(api_version, kind, namespace, name)``, which returns the object
    or raises. Raises ValueError naming the problem."""
    ref = alert["provider_ref"]
    provider_obj = get(ALERT_PROVIDER_API_VERSION, "AlertProvider", ref["namespace"], ref["name"])
    secret_ref = ((provider_obj.get("spec") or {}).get("secretRef") or {}).get("name")
    secret = get("v1", "Secret", ref["namespace"], secret_ref) if secret_ref else None
    return target_from_alert_provider(alert, provider_obj, secret)
