"""The patch formats the Kubernetes API accepts: JSON merge, JSON patch, strategic merge, apply."""
from __future__ import annotations

from .errors import ApiError
from .store import clone

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (MERGE_PATCH, JSON_PATCH, STRATEGIC_PATCH, APPLY_PATCH)


def _bad(message: str, code: int = 422, reason: str = "Invalid") -> ApiError:
    return ApiError(code, reason, message)


# ----- RFC 7386 --------------------------------------------------------------------------------
def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return clone(patch)
    result = clone(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ----- RFC 6902 --------------------------------------------------------------------------------
def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _bad(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts, path):
    cur = doc
    for part in parts:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise _bad(f"json patch: path {path!r} does not exist")
    return cur


def _index(container, part, path, allow_end=False):
    if part == "-" and allow_end:
        return len(container)
    if not part.isdigit():
        raise _bad(f"json patch: invalid array index in {path!r}")
    idx = int(part)
    if idx > len(container) or (idx == len(container) and not allow_end):
        raise _bad(f"json patch: index out of range in {path!r}")
    return idx


def _add(doc, path, value):
    parts = _pointer(path)
    if not parts:
        return value
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, list):
        parent.insert(_index(parent, last, path, allow_end=True), value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise _bad(f"json patch: cannot add at {path!r}")
    return doc


def _remove(doc, path):
    parts = _pointer(path)
    if not parts:
        raise _bad("json patch: cannot remove the whole document")
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, path))
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    raise _bad(f"json patch: path {path!r} does not exist")


def json_patch(target, ops):
    if not isinstance(ops, list):
        raise _bad("json patch must be a list of operations", 400, "BadRequest")
    doc = clone(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise _bad(f"json patch: malformed operation {op!r}", 400, "BadRequest")
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _add(doc, path, clone(op.get("value")))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            if not _pointer(path):
                doc = clone(op.get("value"))
                continue
            _remove(doc, path)
            doc = _add(doc, path, clone(op.get("value")))
        elif kind == "move":
            value = _remove(doc, op["from"])
            doc = _add(doc, path, value)
        elif kind == "copy":
            doc = _add(doc, path, clone(_walk(doc, _pointer(op["from"]), op["from"])))
        elif kind == "test":
            if _walk(doc, _pointer(path), path) != op.get("value"):
                raise _bad(f"json patch: test operation failed at {path!r}")
        else:
            raise _bad(f"json patch: unknown operation {kind!r}", 400, "BadRequest")
    return doc


# ----- strategic merge ------------------------------------------------------------------------
# Merge keys of the list fields that built-in types merge by key (patchMergeKey in the Go types).
_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name",
    "env": "name", "imagePullSecrets": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "conditions": "type", "hostAliases": "ip", "topologySpreadConstraints": "topologyKey",
    "ownerReferences": "uid", "resourceClaims": "name", "ephemeralContainerStatuses": "name",
    "containerStatuses": "name", "initContainerStatuses": "name", "addresses": "type",
}
_PRIMITIVE_SETS = {"finalizers"}


def _merge_key(field: str, path: tuple) -> str | None:
    if field == "ports":
        return "containerPort" if any(p in ("containers", "initContainers", "ephemeralContainers") for p in path) \
            else "port"
    return _MERGE_KEYS.get(field)


def strategic_merge(target, patch, path: tuple = ()):
    if not isinstance(patch, dict):
        return clone(patch)
    if patch.get("$patch") == "replace":
        return {k: clone(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = clone(target) if isinstance(target, dict) else {}
    orders, retain = {}, patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value, path + (key,))
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, key, path + (key,))
        else:
            result[key] = value
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _apply_order(result[field], order, _merge_key(field, path + (field,)))
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(current, patch_list, field, path):
    key = _merge_key(field, path)
    if key is None:
        if field in _PRIMITIVE_SETS and isinstance(current, list):
            return current + [v for v in patch_list if v not in current]
        replace = [v for v in patch_list if not (isinstance(v, dict) and v.get("$patch") == "replace")]
        return clone(replace)
    current = [clone(v) for v in current] if isinstance(current, list) else []
    if any(isinstance(v, dict) and v.get("$patch") == "replace" for v in patch_list):
        return [clone(v) for v in patch_list if not (isinstance(v, dict) and v.get("$patch") == "replace")]
    for item in patch_list:
        if not isinstance(item, dict):
            current.append(clone(item))
            continue
        idx = next((i for i, c in enumerate(current) if isinstance(c, dict) and c.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                current.pop(idx)
            continue
        if idx is None:
            current.append(strategic_merge({}, item, path))
        else:
            current[idx] = strategic_merge(current[idx], item, path)
    return current


def _apply_order(items, order, key):
    if key is None or not isinstance(order, list):
        return items
    position = {o.get(key): i for i, o in enumerate(order) if isinstance(o, dict)}
    return sorted(items, key=lambda v: position.get(v.get(key) if isinstance(v, dict) else None, len(position)))


# ----- dispatch -------------------------------------------------------------------------------
def apply_patch(patch_type: str, current: dict, patch, custom: bool) -> dict:
    if patch_type == MERGE_PATCH:
        return merge_patch(current, patch)
    if patch_type == JSON_PATCH:
        return json_patch(current, patch)
    if patch_type == STRATEGIC_PATCH:
        if custom:
            raise ApiError(415, "UnsupportedMediaType",
                           "strategic merge patch format is not supported for custom resources")
        return strategic_merge(current, patch)
    if patch_type == APPLY_PATCH:
        return server_side_apply(current, patch, custom)
    raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media "
                                                f"types include: {', '.join(PATCH_TYPES)}")


def server_side_apply(current: dict, applied: dict, custom: bool, previous: dict | None = None) -> dict:
    """Merge the applied configuration into the live object.

    Fields that this manager applied last time but no longer applies are removed, which is what
    users see from real server-side apply when they drop a field from their manifest.
    """
    if not isinstance(applied, dict):
        raise ApiError(400, "BadRequest", "apply patch must be a YAML or JSON object")
    base = clone(current)
    if previous:
        base = _drop_unapplied(base, previous, applied)
    if custom:
        return _deep_merge(base, applied)
    return strategic_merge(base, applied)


def _deep_merge(target, patch):
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return clone(patch)
    result = clone(target)
    for k, v in patch.items():
        result[k] = _deep_merge(result.get(k), v) if isinstance(v, dict) else clone(v)
    return result


def _drop_unapplied(live, previous, applied):
    if not isinstance(live, dict) or not isinstance(previous, dict):
        return live
    for key, old_value in previous.items():
        if key in ("apiVersion", "kind") or (key == "metadata" and not isinstance(applied.get(key), dict)):
            continue
        if not isinstance(applied, dict) or key not in applied:
            live.pop(key, None)
        elif isinstance(old_value, dict) and isinstance(applied[key], dict) and isinstance(live.get(key), dict):
            live[key] = _drop_unapplied(live[key], old_value, applied[key])
    return live
