# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A generic JSON web provider (ours; Flagger has none, Argo Rollouts calls its one ``web``).

``spec.provider.address`` is the URL. The query is either a JMESPath expression, which picks the
number out of the JSON a GET of the address answers, or a mapping (as YAML) of ``jmespath`` and,
optionally, ``path`` (appended to the address, or a full URL), ``method`` (GET or POST) and
``body`` (sent as JSON with POST). Every key of the secretRef Secret is sent as an HTTP header of
that name, so ``Authorization: Bearer ...`` stays in the Secret.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import (
    MetricProvider,
    NoData,
    ProviderError,
    number,
)

try:
    import jmespath

    HAS_JMESPATH = True
except ImportError:  # reported when a json template is used
    jmespath = None
    HAS_JMESPATH = False

try:
    import yaml

    HAS_YAML = True
except ImportError:
    yaml = None
    HAS_YAML = False

QUERY_KEYS = ("jmespath", "path", "method", "body")
# A query that is a mapping names its jmespath key on a line of its own (or first in braces).
MAPPING_QUERY = re.compile(r"^\s*\{?\s*jmespath\s*:", re.M)
METHODS = ("GET", "POST")


def parse_json_query(query):
    """``(expression, path, method, body)`` of a json provider's query (pure, for tests)."""
    text = (query or "").strip()
    spec = {"jmespath": text}
    if HAS_YAML and MAPPING_QUERY.search(text):
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput("the json provider's query looks like a mapping with jmespath but "
                               "is not valid YAML: {0}".format(exc))
        if isinstance(loaded, dict):
            spec = loaded
    unknown = sorted(set(spec) - set(QUERY_KEYS))
    if unknown:
        raise InvalidInput("the json provider's query has unknown key(s) {0}; allowed: {1}".format(
            ", ".join(unknown), ", ".join(QUERY_KEYS)))
    method = str(spec.get("method") or "GET").upper()
    if method not in METHODS:
        raise InvalidInput("the json provider's query method must be GET or POST; got {0!r}".format(
            spec.get("method")))
    expression = spec.get("jmespath")
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidInput("the json provider's query needs a jmespath expression that picks the "
                           "number out of the answer")
    if spec.get("body") is not None and method != "POST":
        raise InvalidInput("the json provider's query has a body, which is only sent with method "
                           "POST")
    path = spec.get("path")
    if path is not None and not isinstance(path, str):
        raise InvalidInput("the json provider's query path must be a string; got {0!r}".format(path))
    return expression.strip(), path, method, spec.get("body")


def compile_expression(expression):
    try:
        return jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise InvalidInput("jmespath expression {0!r} is not valid: {1}".format(expression, exc))


def pick_number(document, expression):
    """Apply ``expression`` to ``document``; one number, or NoData (pure, for tests)."""
    found = compile_expression(expression).search(document)
    if isinstance(found, list):
        if not found:
            raise NoData("jmespath {0} found an empty list".format(expression))
        if len(found) > 1:
            raise ProviderError("jmespath {0} found {1} values, expected one number; select one, "
                                "for example with [0] or max(...)".format(expression, len(found)))
        found = found[0]
    if found is None:
        raise NoData("jmespath {0} found nothing in the answer".format(expression))
    return number(found, "what jmespath {0} found".format(expression))


class JsonWebProvider(MetricProvider):
    type = "json"
    label = "JSON endpoint"

    def auth_headers(self):
        # The Secret's keys are header names: credentials live there, not in the template.
        return dict(self.credentials)

    def configure(self):
        if not HAS_JMESPATH:
            raise InvalidInput("the json provider needs the jmespath Python library; install it "
                               "with pip install jmespath")
        if not self.address.startswith(("http://", "https://")):
            raise InvalidInput("the json provider needs spec.provider.address, an http:// or "
                               "https:// URL; got {0!r}".format(self.address))

    def _url(self, path):
        if not path:
            return self.address
        if path.startswith(("http://", "https://")):
            return path
        return self.address + "/" + path.lstrip("/")

    def run_query(self, query):
        expression, path, method, body = parse_json_query(query)
        compile_expression(expression)
        response = self.request(method, self._url(path), json=body)
        return pick_number(self.json_answer(response), expression)

    def is_online(self):
        self.json_answer(self.request("GET", self.address))
        return True
