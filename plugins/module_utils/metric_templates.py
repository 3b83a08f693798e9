# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flagger MetricTemplate support: reading the manifest and rendering its query safely.

Flagger renders queries with Go templates; we accept the same ``{{ name }}`` placeholders but
substitute them ourselves, so a template can never execute code, and every value is checked
against a strict pattern first, so nothing a user passes can change the PromQL around it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import dataclasses
import re
import typing

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.names import (
    is_dns_label,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.factory import (
    SUPPORTED_TYPES,
    provider_class,
)

METRIC_TEMPLATE_API_VERSION = "flagger.app/v1beta1"
SUPPORTED_PROVIDERS = SUPPORTED_TYPES

# Values that are Kubernetes names: must be DNS labels.
# ``compared_service`` (ours) is the Service being measured: the canary Service, or in a
# comparison each of the canary and primary Services in turn.
NAME_VARIABLES = ("name", "namespace", "target", "service", "ingress", "route", "compared_service")
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
# Letters, digits and a few separators: enough for label values such as "GET", "/api/v1" or
# "2.5", never a quote, brace, bracket, parenthesis, comma or operator that could end a string or
# add a selector.
SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.:/@+-]{0,253}$")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# A Go template action: ``{{`` with an optional trim marker ``- `` (dash and space), its body, and
# ``}}`` with an optional `` -`` before it. Flagger renders queries with Go's text/template and
# functions named after the built-in variables.
PLACEHOLDER = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
# The forms we render: ``name``; ``variables.x`` or ``(variables).x``; ``index variables "x"``.
EXPRESSION = re.compile(r"^\s*(variables\.|\(\s*variables\s*\)\.)?([A-Za-z_][A-Za-z0-9_-]*)\s*$")
INDEX_EXPRESSION = re.compile(r'^\s*index\s+\(?\s*variables\s*\)?\s+"([^"\\]*)"\s*$')
COMMENT = re.compile(r"^/\*.*\*/$", re.S)
CONTROL_WORDS = ("if", "else", "end", "range", "with", "define", "template", "block", "break",
                 "continue")


def validate_interval(value, field="interval"):
    if not isinstance(value, str) or not DURATION.match(value):
        raise InvalidInput(
            "{0} must be a Prometheus duration such as 30s, 1m or 1h30m; got {1!r}".format(
                field, value))
    return value


def validate_variables(variables):
    """Check user-supplied ``variables.X`` values; returns them as strings."""
    checked = {}
    for key, value in (variables or {}).items():
        if not isinstance(key, str) or not VARIABLE_NAME.match(key):
            raise InvalidInput(
                "template variable names must be letters, digits, '_' or '-'; got {0!r}".format(
                    key))
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InvalidInput(
                "template variable {0} must be a string or number; got {1!r}".format(key, value))
        text = str(value)
        if not SAFE_VALUE.match(text):
            raise InvalidInput(
                "template variable {0} may only contain letters, digits and _ . : / @ + - "
                "(at most 253 characters); got {1!r}".format(key, text))
        checked[key] = text
    return checked


def render_query(query, context, variables=None):
    """Substitute ``{{ name }}`` and ``{{ variables.X }}`` placeholders in ``query``.

    ``context`` maps the built-in names (name, namespace, target, service, ingress, route,
    interval) to values; None means "not given". Every placeholder must be known and have a
    value; anything else in braces is refused rather than passed through.
    """
    variables = validate_variables(variables)
    values = {}
    for key, value in context.items():
        if value is None:
            continue
        if key == "interval":
            validate_interval(value)
        elif key in NAME_VARIABLES and not is_dns_label(value):
            raise InvalidInput(
                "{0} must be a DNS label (lowercase letters, digits and '-', at most 63 "
                "characters) to be used in a query; got {1!r}".format(key, value))
        values[key] = value

    def value_of(body, whole):
        expression = EXPRESSION.match(body)
        index = INDEX_EXPRESSION.match(body)
        if index:
            is_variable, key = True, index.group(1)
        elif expression:
            is_variable, key = expression.group(1), expression.group(2)
        else:
            raise InvalidInput(
                "unsupported template expression {0} ({1}); only {{{{ name }}}}, "
                "{{{{ namespace }}}}, {{{{ target }}}}, {{{{ service }}}}, {{{{ ingress }}}}, "
                "{{{{ route }}}}, {{{{ interval }}}}, {{{{ variables.X }}}} and "
                "{{{{ index variables \"X\" }}}} are allowed, with Go's {{{{- -}}}} trim markers "
                "and comments".format(whole, _construct(body)))
        if is_variable:
            if key not in variables:
                raise InvalidInput(
                    "unknown template variable variables.{0}: give it a value in "
                    "template_variables (known: {1})".format(
                        key, ", ".join(sorted(variables)) or "none"))
            return variables[key]
        if key not in NAME_VARIABLES + ("interval",):
            raise InvalidInput(
                "unknown template variable {0}; known variables are {1} and variables.X".format(
                    key, ", ".join(NAME_VARIABLES + ("interval",))))
        if key not in values:
            raise InvalidInput(
                "template variable {0} is used by the query but has no value; set the {0} "
                "option".format(key))
        return values[key]

    # Go's rendering: text between actions as it is, each action replaced by its value; a trim
    # marker removes the white space on its side of the action.
    pieces = []
    position = 0
    trim_next = False
    for match in PLACEHOLDER.finditer(query):
        text = query[position:match.start()]
        if trim_next:
            text = text.lstrip()
        if match.group(1):
            text = text.rstrip()
        pieces.append(text)
        body = match.group(2).strip()
        if not COMMENT.match(body):
            pieces.append(value_of(match.group(2), match.group(0)))
        trim_next = bool(match.group(3))
        position = match.end()
    tail = query[position:]
    pieces.append(tail.lstrip() if trim_next else tail)
    rendered = "".join(pieces)
    if "{{" in rendered or "}}" in rendered:
        raise InvalidInput("the query has an unterminated template expression: {0}".format(query))
    return rendered


def _construct(body):
    """What a refused template action is, in words a Go template user knows."""
    words = body.split()
    if not words:
        return "an empty action"
    if "|" in body:
        return "a pipeline: Flagger's queries only insert values"
    if words[0] in CONTROL_WORDS:
        return "the {0} action: conditionals, loops and nested templates are not rendered".format(
            words[0])
    if words[0].startswith(".") or words[0].startswith("$"):
        return ("a field of the template's data: Flagger renders queries without data, so "
                "{0} is an error there too; write the variable as a function, such as "
                "{{{{ name }}}} or {{{{ variables.x }}}}".format(words[0]))
    if len(words) > 1:
        return "a call of the function {0}: only index is rendered".format(words[0])
    return "not a variable"


@dataclasses.dataclass(eq=False)
class MetricTemplate:
    """The parts of a Flagger MetricTemplate we use."""

    name: str
    namespace: str
    query: str
    provider_type: str
    address: typing.Optional[str] = None
    secret_ref: typing.Optional[dict] = None
    insecure_skip_verify: bool = False
    headers: typing.Optional[dict] = None
    region: typing.Optional[str] = None

    def __post_init__(self):
        self.headers = self.headers or {}


def parse_metric_template(manifest, source="template"):
    """Validate a MetricTemplate manifest (a dict) and return a MetricTemplate."""
    if not isinstance(manifest, dict):
        raise InvalidInput("{0} must be a MetricTemplate mapping; got {1}".format(
            source, type(manifest).__name__))
    kind = manifest.get("kind")
    api_version = manifest.get("apiVersion")
    if kind != "MetricTemplate" or api_version != METRIC_TEMPLATE_API_VERSION:
        raise InvalidInput(
            "{0} must be a {1} MetricTemplate; got apiVersion={2!r} kind={3!r}".format(
                source, METRIC_TEMPLATE_API_VERSION, api_version, kind))
    metadata = manifest.get("metadata") or {}
    spec = manifest.get("spec") or {}
    query = spec.get("query")
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("{0} has no spec.query".format(source))
    provider = spec.get("provider") or {}
    provider_type = provider.get("type", "prometheus")
    provider_class(provider_type, source)
    secret_ref = provider.get("secretRef") or None
    if secret_ref is not None and not is_dns_label(secret_ref.get("name")):
        raise InvalidInput("{0} spec.provider.secretRef.name must be a Secret name; got {1!r}".format(
            source, secret_ref.get("name")))
    return MetricTemplate(
        headers=_provider_headers(provider.get("headers"), source),
        region=provider.get("region"),
        name=metadata.get("name"),
        namespace=metadata.get("namespace"),
        query=query,
        provider_type=provider_type,
        address=provider.get("address"),
        secret_ref=secret_ref,
        insecure_skip_verify=bool(provider.get("insecureSkipVerify", False)),
    )


def _provider_headers(headers, source):
    """``spec.provider.headers`` (Go's http.Header: a name maps to a list of values) as a dict."""
    if headers is None:
        return {}
    if not isinstance(headers, dict):
        raise InvalidInput("{0} spec.provider.headers must be a mapping of header names to lists "
                           "of values".format(source))
    flat = {}
    for key, values in headers.items():
        values = values if isinstance(values, list) else [values]
        if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values):
            raise InvalidInput("{0} spec.provider.headers.{1} must be a string or a list of "
                               "strings".format(source, key))
        flat[str(key)] = ", ".join(str(v) for v in values)
    return flat
