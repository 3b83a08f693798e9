# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How Graphite is queried: its render URL API, as Flagger's graphite provider does.

The query is the render API's query string (``target=...&from=-1min&until=now``): runs of
whitespace become one space (and are trimmed around each value), ``format=json`` is set, and it is
sent as a GET to ``<address>/render`` (a path in the address is kept as a prefix). The value is the
last non-null datapoint of the answer, across its series in order. A secretRef Secret must give
``username`` and ``password``, sent as HTTP basic authentication.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.module_utils.six.moves.urllib.parse import (  # pylint: disable=import-error
    parse_qsl,
)

from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import (
    MetricProvider,
    NoData,
    ProviderError,
    http_url_parts,
    number,
)

WHITESPACE = re.compile(r"\s+")


class GraphiteProvider(MetricProvider):
    type = "graphite"
    label = "Graphite"
    required_credentials = (("username", "password"),)
    basic_auth = True

    def configure(self):
        http_url_parts(self.address, self.type)

    def run_query(self, query):
        # Flagger collapses whitespace; we also trim it around each value, so a template may break
        # its query string over lines.
        params = [(k.strip(), v.strip()) for k, v in parse_qsl(WHITESPACE.sub(" ", query).strip(),
                                                               keep_blank_values=True)
                  if k.strip() != "format"]
        if not any(k == "target" for k, _v in params):
            raise ProviderError(
                "a graphite query is a render API query string with at least one target, such "
                "as target=sumSeries(app.*.requests)&from=-1min; got {0!r}".format(query))
        params.append(("format", "json"))
        response = self.request("GET", self.address + "/render", params=params)
        if response.status_code >= 400:
            raise ProviderError("{0} answered HTTP {1}: {2}".format(
                self.name, response.status_code, _first_line(response.text)))
        return last_datapoint(self.json_answer(response, "a JSON render answer"), self.name)

    def is_online(self):
        try:
            self.run_query("target=test")
        except NoData:
            pass
        return True


def _first_line(text):
    lines = (text or "").strip().splitlines()
    return lines[0][:200] if lines else "no message"


def last_datapoint(body, name="Graphite"):
    """The last non-null value of a ``format=json`` render answer (pure, for tests)."""
    if not isinstance(body, list):
        raise ProviderError("{0} answered {1}, not a list of series".format(name, type(body).__name__))
    value = None
    for series in body:
        points = series.get("datapoints") if isinstance(series, dict) else None
        if not isinstance(points, list):
            raise ProviderError("{0} answered a series without datapoints".format(name))
        for point in points:
            if not isinstance(point, list) or len(point) != 2:
                raise ProviderError("{0} answered a datapoint {1!r}, expected [value, timestamp]".format(
                    name, point))
            if point[0] is not None:
                value = point[0]
    if value is None:
        raise NoData("the query returned no datapoints" if not body else "every datapoint is null")
    return number(value, "the last datapoint's value")
