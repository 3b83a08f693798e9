# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How InfluxDB is queried: InfluxQL on 1.x, Flux on 2.x.

Flagger's influxdb provider speaks Flux to InfluxDB 2.x: ``/api/v2/query`` with the ``token``
(``Authorization: Token ...``) and ``org`` of the secretRef Secret. InfluxDB 1.x, which Debian
ships (1.6), has no Flux endpoint, so a query in InfluxQL (one without ``|>``) goes to the 1.x
``/query`` endpoint instead, as a GET, which InfluxDB 1.x only runs for ``SELECT`` and ``SHOW``: a
template cannot write or drop. Its database is named in the query (``FROM "db"."autogen"."m"``) or
by query parameters of the address (``http://influxdb:8086?db=traefik``), which are sent with
every query; the Secret's ``username`` and ``password`` go as HTTP basic authentication.

The value of a Flux answer is the ``_value`` of its first record, as in Flagger; of an InfluxQL
answer, the last non-null value of the first column after ``time`` of its only series. Where
Flagger returns 0 for a Flux answer without records, this is "no data".
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io

from ansible.module_utils.six.moves.urllib.parse import (  # pylint: disable=import-error
    parse_qsl,
    urlunsplit,
)

from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import (
    MetricProvider,
    NoData,
    ProviderError,
    http_url_parts,
    number,
)


class InfluxDBProvider(MetricProvider):
    type = "influxdb"
    label = "InfluxDB"
    required_credentials = (("username", "password"), ("token", "org"))
    basic_auth = True

    def configure(self):
        parts = http_url_parts(self.address, self.type)
        # Query parameters of the address (db, rp) go with every query; the path is kept as a prefix.
        self.base_params = parse_qsl(parts.query, keep_blank_values=True)
        self.base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self.address = self.base

    def run_query(self, query):
        if "|>" in query:
            return self.run_flux(query)
        params = self.base_params + [("q", " ".join(query.split())), ("epoch", "s")]
        response = self.request("GET", self.base + "/query", params=params)
        return parse_influxql_response(response.status_code, self.json_answer_or_error(response),
                                       self.name)

    def run_flux(self, query):
        """Flux to InfluxDB 2.x's query API, as Flagger's client sends it."""
        headers = {"Accept": "application/csv", "Content-Type": "application/json"}
        if self.credentials.get("token"):
            headers["Authorization"] = "Token {0}".format(self.credentials["token"])
        body = {"query": query, "type": "flux",
                "dialect": {"annotations": ["datatype", "group", "default"], "delimiter": ",",
                            "header": True}}
        response = self.request("POST", self.base + "/api/v2/query", headers=headers, json=body,
                                params={"org": self.credentials.get("org", "")})
        if response.status_code // 100 != 2:
            try:
                message = response.json().get("message")
            except (ValueError, AttributeError):
                message = None
            raise ProviderError("{0} refused the Flux query (HTTP {1}): {2}".format(
                self.name, response.status_code, message or response.text.strip()[:200] or "no message"))
        return parse_flux_csv(response.text, self.name)

    def json_answer_or_error(self, response):
        # InfluxDB answers errors (401, 400) with JSON {"error": ...}: quote it, not the status alone.
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("error"):
            raise ProviderError("{0} refused the query (HTTP {1}): {2}".format(
                self.name, response.status_code, body["error"]))
        return self.json_answer(response)

    def is_online(self):
        response = self.request("GET", self.base + "/ping")
        if response.status_code != 204:
            raise ProviderError("{0} answered /ping with HTTP {1}".format(
                self.name, response.status_code))
        return True


def parse_influxql_response(status_code, body, name="InfluxDB"):
    """The value of an InfluxQL ``/query`` answer (pure, for tests): the last non-null value of the
    first column after ``time`` of its only series."""
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list) or not results:
        raise ProviderError("{0} answered HTTP {1} without InfluxQL results".format(name, status_code))
    if len(results) > 1:
        raise ProviderError(
            "{0}: the query holds {1} statements, expected one".format(name, len(results)))
    result = results[0]
    if result.get("error"):
        raise ProviderError("{0} query failed: {1}".format(name, result["error"]))
    series = result.get("series") or []
    if not series:
        raise NoData("the query returned no series")
    if len(series) > 1:
        raise ProviderError(
            "{0}: the query returned {1} series, expected one; drop its GROUP BY or aggregate "
            "across the tags".format(name, len(series)))
    columns = series[0].get("columns") or []
    column = next((i for i, c in enumerate(columns) if c != "time"), None)
    if column is None:
        raise ProviderError("{0}: the query returned no value column".format(name))
    values = [row[column] for row in series[0].get("values") or []
              if len(row) > column and row[column] is not None]
    if not values:
        raise NoData("the query returned only null values")
    return number(values[-1], "the query's value")


def parse_flux_csv(text, name="InfluxDB"):
    """The ``_value`` of the first record of an annotated-CSV Flux answer (pure, for tests)."""
    header = None
    datatypes = None
    for row in csv.reader(io.StringIO(text)):
        if not row or not any(cell.strip() for cell in row):
            header = None  # a blank line ends a table; the next one brings its own annotations
            continue
        if row[0].startswith("#"):
            if row[0] == "#datatype":
                datatypes = row
            continue
        if header is None:
            header = row
            continue
        if "_value" not in header:
            if "error" in header:
                raise ProviderError("{0} Flux query failed: {1}".format(
                    name, row[header.index("error")]))
            raise ProviderError("{0}: the Flux answer has no _value column".format(name))
        column = header.index("_value")
        raw = row[column] if column < len(row) else ""
        kind = datatypes[column] if datatypes and column < len(datatypes) else "double"
        if raw == "":
            raise NoData("the first record has no _value")
        if kind not in ("double", "long", "unsignedLong"):
            raise ProviderError("{0}: the first record's _value is a {1} ({2!r}), not a number".format(
                name, kind, raw))
        return number(raw, "the first record's _value")
    raise NoData("the query returned no records")
