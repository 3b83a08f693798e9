"""Pure logic of `make compare`: objects and events of two namespaces made comparable, and diffed.

Each side (Flagger's controller, the role) releases the same app in its own namespace. What the
API server adds (uid, resourceVersion, timestamps, managedFields, allocated ClusterIPs, status)
is removed, the namespace's name is replaced by ``{ns}`` (and its host name by ``{host}``), and
what is left is flattened into ``path -> value`` so a diff names every differing field.
"""
import re

# metadata the API server or the controllers write, never the creator
SERVER_METADATA = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink",
                   "deletionTimestamp", "deletionGracePeriodSeconds")
# annotations written by controllers and clients, not by either side's own logic
SERVER_ANNOTATIONS = ("deployment.kubernetes.io/revision", "kubectl.kubernetes.io/last-applied-configuration")
# spec fields the API server allocates or defaults per Service
SERVICE_ALLOCATED = ("clusterIP", "clusterIPs")


def strip_server_fields(obj):
    """A copy of ``obj`` without status and without what the API server fills in."""
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_METADATA}
    if "annotations" in meta:
        annotations = {k: v for k, v in meta["annotations"].items() if k not in SERVER_ANNOTATIONS}
        if annotations:
            meta["annotations"] = annotations
        else:
            del meta["annotations"]
    if "ownerReferences" in meta:
        meta["ownerReferences"] = [{k: v for k, v in ref.items() if k != "uid"} for ref in meta["ownerReferences"]]
    out["metadata"] = meta
    if obj.get("kind") == "Service" and isinstance(obj.get("spec"), dict):
        out["spec"] = {k: v for k, v in obj["spec"].items() if k not in SERVICE_ALLOCATED}
    return out


def _replace_names(value, replacements):
    if isinstance(value, dict):
        return {_replace_names(k, replacements): _replace_names(v, replacements) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_names(v, replacements) for v in value]
    if isinstance(value, str):
        for pattern, placeholder in replacements:
            value = pattern.sub(placeholder, value)
    return value


def name_replacements(namespace, host=None):
    """Regexes that turn a namespace (not as part of a longer name of letters and digits) and its host name into placeholders."""
    out = []
    if host:
        out.append((re.compile(re.escape(host)), "{host}"))
    out.append((re.compile(r"(?<![A-Za-z0-9]){0}(?![A-Za-z0-9])".format(re.escape(namespace))), "{ns}"))
    return out


def normalise_object(obj, namespace, host=None):
    """``obj`` without server-managed fields, its namespace and host name replaced by placeholders."""
    return _replace_names(strip_server_fields(obj), name_replacements(namespace, host))


def flatten(value, prefix=""):
    """``{"a": {"b": [1, 2]}}`` -> ``{"a.b[0]": 1, "a.b[1]": 2}``; empty dicts and lists are kept as values."""
    out = {}
    if isinstance(value, dict) and value:
        for key in sorted(value):
            out.update(flatten(value[key], "{0}.{1}".format(prefix, key) if prefix else str(key)))
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            out.update(flatten(item, "{0}[{1}]".format(prefix, i)))
    else:
        out[prefix] = value
    return out


MISSING = "(absent)"
AGGREGATED = "(combined from similar events): "


def diff(left, right):
    """[(path, left value, right value)] for every field that differs, sorted by path; a field only
    one side has shows ``MISSING`` on the other."""
    a, b = flatten(left), flatten(right)
    rows = []
    for path in sorted(set(a) | set(b)):
        va, vb = a.get(path, MISSING), b.get(path, MISSING)
        if va != vb:
            rows.append((path, va, vb))
    return rows


def normalise_event(message, namespace, host=None):
    """An Event message with the namespace and host name replaced, and measured numbers (rates,
    durations) replaced by ``N`` so that two runs of the same decisions read the same."""
    # client-go's event correlator replaces the message of the 11th similar Event in 10 minutes
    # with this prefix and the newest message: Kubernetes' doing, not the controller's
    text = message[len(AGGREGATED):] if message.startswith(AGGREGATED) else message
    text = _replace_names(text, name_replacements(namespace, host))
    return re.sub(r"\d+(\.\d+)?(ms|s|%)", "N\\2", text)


def collapse_repeats(messages):
    """Consecutive identical messages as one line with a count: ``["a", "a", "b"]`` -> ``["a (×2)", "b"]``."""
    out = []
    for msg in messages:
        if out and out[-1][0] == msg:
            out[-1][1] += 1
        else:
            out.append([msg, 1])
    return [m if n == 1 else "{0} (×{1})".format(m, n) for m, n in out]


def status_fields(canary):
    """The Canary status fields a side wrote, with timestamps and hashes reduced to their presence."""
    status = dict(canary.get("status") or {})
    out = {}
    for key, value in sorted(status.items()):
        if key in ("lastTransitionTime", "lastAppliedSpec", "lastPromotedSpec"):
            out[key] = "(set)" if value else value
        elif key == "conditions":
            out[key] = [{k: v for k, v in c.items() if k not in ("lastTransitionTime", "lastUpdateTime")}
                        for c in value or []]
        elif key == "trackedConfigs":
            out[key] = {k: "(hash)" for k in value or {}}
        else:
            out[key] = value
    return out


def ratio(ours, theirs):
    """ours / theirs, or None when either is missing or theirs is zero."""
    if ours is None or theirs in (None, 0):
        return None
    return ours / theirs


def replace_between_markers(text, begin, end, body):
    """``text`` with what lies between the two marker lines replaced by ``body``; the markers and
    body appended at the end when the markers are not there yet."""
    block = "{0}\n{1}\n{2}".format(begin, body.strip("\n"), end)
    start = text.find(begin)
    stop = text.find(end, start + len(begin)) if start >= 0 else -1
    if start >= 0 and stop >= 0:
        return text[:start] + block + text[stop + len(end):]
    return text.rstrip("\n") + "\n\n" + block + "\n"
