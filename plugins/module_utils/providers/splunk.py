# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Splunk Observability Cloud (SignalFx), as Flagger asks it: a SignalFlow program over the last ten
metric intervals.

Flagger runs the program over SignalFlow's WebSocket API; we use its HTTP form, which answers the
same computation as Server-Sent Events: ``POST <stream address>/v2/signalflow/execute?start=<ms>
&stop=<ms>&immediate=true`` with the program as the body and the ``X-SF-Token`` header from the
Secret key ``sf_token_key``. As in Flagger, ``api`` in the address becomes ``stream`` for the
query (``https://api.us1.signalfx.com`` asks ``https://stream.us1.signalfx.com``); the value is the
last non-null value, and values of more than one time series are an error.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import (
    MetricProvider,
    NoData,
    ProviderError,
    number,
)

WINDOW_INTERVALS = 10


def server_sent_events(text):
    """``[(event, data)]`` of a text/event-stream body (pure, for tests)."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith(":") or ":" not in line:
                continue
            field, value = line.split(":", 1)
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
        if data:
            events.append((event, "\n".join(data)))
    return events


def last_value(events):
    """The value of a SignalFlow computation's data messages, as Flagger reads them (pure)."""
    points = []
    for event, data in events:
        try:
            message = json.loads(data)
        except ValueError:
            continue
        if not isinstance(message, dict):
            continue
        kind = message.get("type") or event
        if kind == "error":
            raise ProviderError("SignalFlow error: {0}".format(
                message.get("message") or message.get("error") or data[:200]))
        if kind == "data":
            points.extend(p for p in message.get("data") or []
                          if isinstance(p, dict) and p.get("value") is not None)
    if not points:
        raise NoData("SignalFlow returned no data points")
    series = set(p.get("tsId") for p in points)
    if len(series) > 1:
        raise ProviderError("the program returned values of {0} time series, expected one".format(
            len(series)))
    return points[-1]["value"]


class SplunkProvider(MetricProvider):
    type = "splunk"
    label = "Splunk Observability"
    credential_headers = (("X-SF-Token", "{sf_token_key}"),)
    address_needed = "such as https://api.us1.signalfx.com"

    def configure(self):
        self.stream_address = self.address.replace("api", "stream", 1)
        self.api_address = self.address.replace("stream", "api", 1)

    def run_query(self, query):
        now = int(self.now()) * 1000
        params = {"start": now - int(WINDOW_INTERVALS * self.interval_seconds() * 1000),
                  "stop": now, "immediate": "true"}
        response = self.request(
            "POST", self.stream_address + "/v2/signalflow/execute", params=params,
            data=query.encode("utf-8"), headers={"Content-Type": "text/plain"})
        if response.status_code // 100 != 2:
            raise self.error("answered HTTP {0}: {1}".format(response.status_code,
                                                             (response.text or "")[:200]))
        try:
            value = last_value(server_sent_events(response.text))
        except ProviderError as exc:
            raise self.error(str(exc))
        return number(value, "SignalFlow's last value")

    def is_online(self):
        self.json_answer(self.request("GET", self.api_address + "/v2/metric",
                                      params={"limit": 1}))
        return True
