"""Label and field selectors in Kubernetes query syntax."""
from __future__ import annotations

import functools
import re

from .errors import ApiError

_SET_TERM = re.compile(r"^\s*(!?)\s*([A-Za-z0-9./_-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQ_TERM = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)\s*$")


def _split_terms(selector: str) -> list[str]:
    # Commas inside "in (a,b)" belong to the value set, not to the term list.
    terms, depth, current = [], 0, []
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    terms.append("".join(current))
    return [t for t in terms if t.strip()]


@functools.lru_cache(maxsize=512)
def parse_label_selector(selector: str | None) -> tuple:
    if not selector:
        return ()
    reqs = []
    for term in _split_terms(selector):
        m = _EQ_TERM.match(term)
        if m:
            key, op, value = m.groups()
            reqs.append((key, "!=" if op == "!=" else "=", frozenset([value])))
            continue
        m = _SET_TERM.match(term)
        if m:
            bang, key, op, values = m.groups()
            if op:
                if bang:
                    raise ApiError(400, "BadRequest", f"unable to parse requirement: {term!r}")
                reqs.append((key, op, frozenset(v.strip() for v in values.split(",") if v.strip())))
            else:
                reqs.append((key, "!exists" if bang else "exists", frozenset()))
            continue
        raise ApiError(400, "BadRequest", f"unable to parse requirement: found '{term}', expected a selector term")
    return tuple(reqs)


def labels_match(labels: dict | None, reqs: tuple) -> bool:
    labels = labels or {}
    for key, op, values in reqs:
        present = key in labels
        value = labels.get(key)
        if op == "=" and (not present or value not in values):
            return False
        if op == "!=" and present and value in values:
            return False
        if op == "in" and (not present or value not in values):
            return False
        if op == "notin" and present and value in values:
            return False
        if op == "exists" and not present:
            return False
        if op == "!exists" and present:
            return False
    return True


@functools.lru_cache(maxsize=512)
def parse_field_selector(selector: str | None) -> tuple:
    if not selector:
        return ()
    reqs = []
    for term in _split_terms(selector):
        m = re.match(r"^\s*([A-Za-z0-9._-]+)\s*(==|=|!=)\s*(.*?)\s*$", term)
        if not m:
            raise ApiError(400, "BadRequest", f"invalid field selector term {term!r}")
        path, op, value = m.groups()
        reqs.append((tuple(path.split(".")), op == "!=", value))
    return tuple(reqs)


def _field_value(obj: dict, path: tuple) -> str:
    cur = obj
    for part in path:
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def fields_match(obj: dict, reqs: tuple) -> bool:
    for path, negate, value in reqs:
        if (_field_value(obj, path) == value) == negate:
            return False
    return True
