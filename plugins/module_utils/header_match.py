# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flagger's ``analysis.match`` (A/B testing) as Traefik rule matchers (private to this
collection).

Pure functions: which regular expressions Traefik (Go's RE2) cannot compile, and the rule text
that selects the matching requests, in Traefik v3's syntax or in v2's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

MATCH_KINDS = ("exact", "prefix", "regex")

# Traefik v3 (traefik.io) and v2 (traefik.containo.us) name the header matchers differently.
V2_API_VERSION = "traefik.containo.us/v1alpha1"
_MATCHERS = {
    "v3": {"exact": "Header", "regex": "HeaderRegexp"},
    "v2": {"exact": "Headers", "regex": "HeadersRegexp"},
}

# RFC 7230 token: what an HTTP header name may contain.
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

# Perl/PCRE constructs Go's regexp package refuses, each with the words a user will recognise.
_NOT_RE2 = (
    (re.compile(r"\(\?<?[=!]"), "lookahead and lookbehind assertions"),
    (re.compile(r"\(\?>"), "atomic groups"),
    (re.compile(r"\(\?\("), "conditionals"),
    (re.compile(r"\(\?#"), "comments"),
    (re.compile(r"\\[1-9]|\\k[<{']|\\g[{<0-9]"), "backreferences"),
    (re.compile(r"[*+?}]\+"), "possessive quantifiers"),
    (re.compile(r"\\[ZGXRKC]"), "the escapes \\Z, \\G, \\X, \\R, \\K or \\C"),
)
# Go's literal text \Q...\E, named groups (?<name>...) and \z, which Python's re spells otherwise;
# replaced by their Python forms only to check the rest of the syntax.
_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")
_QUOTED = re.compile(r"\\Q(.*?)(?:\\E|$)")
# Regular-expression metacharacters; only these are escaped (Go refuses "\" before most letters).
_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


_CLASS = re.compile(r"\[\^?\]?(?:\\.|[^\]])*\]")


def _outside_classes(pattern):
    """``pattern`` without escaped backslashes and bracket expressions, where the constructs
    looked for below are plain characters."""
    return _CLASS.sub("c", pattern.replace("\\\\", ""))


def re2_problem(pattern):
    """Why Traefik (Go's regexp, RE2 syntax) would refuse ``pattern``, or None.

    RE2 has no backtracking: lookarounds, backreferences, atomic groups, conditionals and
    possessive quantifiers are refused; the remaining syntax is checked by compiling it.
    """
    for construct, words in _NOT_RE2:
        if construct.search(_outside_classes(pattern)):
            return "uses {0}, which Go's RE2 syntax (used by Traefik) does not support".format(words)
    text = _QUOTED.sub(lambda m: escape_literal(m.group(1)), pattern).replace(r"\z", r"\Z")
    text = _NAMED_GROUP.sub("(?P<", text)
    try:
        re.compile(text)
    except re.error as exc:
        return "is not a valid regular expression: {0}".format(exc)
    return None


def escape_literal(value):
    """``value`` as a regular expression that matches it literally, in a form Go accepts."""
    return _META.sub(r"\\\1", value)


def header_expression(name, kind, value, syntax="v3"):
    """One header condition as a Traefik matcher.

    ``regex`` must match the whole value, as Flagger's mesh providers match it; ``prefix`` is a
    regex anchored at the start.
    """
    matchers = _MATCHERS[syntax]
    if kind == "exact":
        return "{0}(`{1}`, `{2}`)".format(matchers["exact"], name, value)
    if kind == "prefix":
        regex = "^" + escape_literal(value)
    else:
        regex = "^(?:{0})$".format(value)
    return "{0}(`{1}`, `{2}`)".format(matchers["regex"], name, regex)


def syntax_for(api_version):
    """Traefik's rule syntax for the API group its CRDs are served in."""
    return "v2" if api_version == V2_API_VERSION else "v3"


def match_expression(match, syntax="v3"):
    """The condition of a whole ``analysis.match``: the headers of one entry all hold (and), any
    entry will do (or). ``match`` is the parsed form: a list of ``{"headers": {name: {"kind": k,
    "value": v}}}``."""
    alternatives = []
    for entry in match:
        conditions = [header_expression(name, spec["kind"], spec["value"], syntax)
                      for name, spec in sorted(entry["headers"].items())]
        alternatives.append(" && ".join(conditions))
    if len(alternatives) == 1:
        return alternatives[0]
    return " || ".join("({0})".format(a) for a in alternatives)


def route_rule(user_rule, match, syntax="v3"):
    """The rule of the canary's route: the user's rule (Host and the rest) and the match."""
    return "({0}) && ({1})".format(user_rule, match_expression(match, syntax))
