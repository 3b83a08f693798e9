"""Server-side printing: `meta.k8s.io/v1 Table` answers, which `kubectl get` asks for."""
from __future__ import annotations

import re
from datetime import datetime, timezone


def wants_table(accept: str) -> bool:
    return "as=Table" in (accept or "")


def human_age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return "<unknown>"
    s = max(0, int((datetime.now(timezone.utc) - then).total_seconds()))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if d < 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    return f"{d}d"


_STEP = re.compile(r"\.([A-Za-z0-9_\-$]+)|\[(\d+)\]|\[\*\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]")


def jsonpath(obj, path: str) -> list:
    """The subset of JSONPath that printer columns use: fields, indexes, [*] and equality filters."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    values = [obj]
    pos = 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        if not m:
            return []
        pos = m.end()
        field, index, fkey, fval = m.groups()
        nxt = []
        for v in values:
            if field is not None and isinstance(v, dict) and field in v:
                nxt.append(v[field])
            elif index is not None and isinstance(v, list) and int(index) < len(v):
                nxt.append(v[int(index)])
            elif m.group(0) == "[*]" and isinstance(v, list):
                nxt.extend(v)
            elif fkey is not None and isinstance(v, list):
                for item in v:
                    cur = item
                    for part in fkey.split("."):
                        cur = cur.get(part) if isinstance(cur, dict) else None
                    if cur is not None and str(cur) == fval:
                        nxt.append(item)
        values = nxt
    return values


def _col(name, type_="string", description="", priority=0, fmt=""):
    return {"name": name, "type": type_, "format": fmt, "description": description, "priority": priority}


NAME_COLUMN = _col("Name", fmt="name", description="Name must be unique within a namespace.")
AGE_COLUMN = _col("Age", description="Time since the object was created.")


def _age(o):
    return human_age(o.get("metadata", {}).get("creationTimestamp"))


def _pod_row(o):
    spec, status = o.get("spec") or {}, o.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    total = len(spec.get("containers") or []) or len(statuses)
    phase = status.get("reason") or status.get("phase") or "Pending"
    for c in statuses:
        waiting = (c.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            phase = waiting["reason"]
    if o.get("metadata", {}).get("deletionTimestamp"):
        phase = "Terminating"
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    return [o["metadata"]["name"], f"{ready}/{total}", phase, restarts, _age(o), status.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>"]


def _deploy_row(o):
    spec, status = o.get("spec") or {}, o.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    selector = ",".join(f"{k}={v}" for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items())
    return [o["metadata"]["name"], f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0), _age(o),
            ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers),
            selector]


def _rs_row(o):
    spec, status = o.get("spec") or {}, o.get("status") or {}
    return [o["metadata"]["name"], spec.get("replicas", 1), status.get("replicas", 0),
            status.get("readyReplicas", 0), _age(o)]


def _svc_row(o):
    spec = o.get("spec") or {}
    ports = ",".join(f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/"
                     f"{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []) or "<none>"
    ingress = ((o.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname") or "" for i in ingress) or (
        "<pending>" if spec.get("type") == "LoadBalancer" else "<none>")
    selector = ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items()) or "<none>"
    return [o["metadata"]["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>", external, ports,
            _age(o), selector]


def _endpoints_row(o):
    addrs = []
    for subset in o.get("subsets") or []:
        for a in subset.get("addresses") or []:
            for p in subset.get("ports") or [{}]:
                addrs.append(f"{a.get('ip')}:{p.get('port')}" if p.get("port") else a.get("ip", ""))
    return [o["metadata"]["name"], ",".join(addrs) or "<none>", _age(o)]


def _hpa_row(o):
    spec, status = o.get("spec") or {}, o.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    return [o["metadata"]["name"], f"{ref.get('kind', '')}/{ref.get('name', '')}", "<unknown>",
            spec.get("minReplicas", 1), spec.get("maxReplicas", 0), status.get("currentReplicas", 0), _age(o)]


def _event_row(o):
    inv = o.get("involvedObject") or {}
    when = o.get("lastTimestamp") or o.get("eventTime") or o.get("metadata", {}).get("creationTimestamp")
    return [human_age(when[:19] + "Z" if when and len(when) > 20 else when), o.get("type", ""), o.get("reason", ""),
            f"{inv.get('kind', '').lower()}/{inv.get('name', '')}", o.get("message", "")]


_BUILTIN = {
    ("", "pods"): ([NAME_COLUMN, _col("Ready"), _col("Status"), _col("Restarts", "integer"), AGE_COLUMN,
                    _col("IP", priority=1), _col("Node", priority=1)], _pod_row),
    ("apps", "deployments"): ([NAME_COLUMN, _col("Ready"), _col("Up-to-date", "integer"),
                               _col("Available", "integer"), AGE_COLUMN, _col("Containers", priority=1),
                               _col("Images", priority=1), _col("Selector", priority=1)], _deploy_row),
    ("apps", "replicasets"): ([NAME_COLUMN, _col("Desired", "integer"), _col("Current", "integer"),
                               _col("Ready", "integer"), AGE_COLUMN], _rs_row),
    ("", "services"): ([NAME_COLUMN, _col("Type"), _col("Cluster-IP"), _col("External-IP"), _col("Port(s)"),
                        AGE_COLUMN, _col("Selector", priority=1)], _svc_row),
    ("", "endpoints"): ([NAME_COLUMN, _col("Endpoints"), AGE_COLUMN], _endpoints_row),
    ("", "namespaces"): ([NAME_COLUMN, _col("Status"), AGE_COLUMN],
                         lambda o: [o["metadata"]["name"], (o.get("status") or {}).get("phase", "Active"), _age(o)]),
    ("", "configmaps"): ([NAME_COLUMN, _col("Data", "integer"), AGE_COLUMN],
                         lambda o: [o["metadata"]["name"], len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                                    _age(o)]),
    ("", "secrets"): ([NAME_COLUMN, _col("Type"), _col("Data", "integer"), AGE_COLUMN],
                      lambda o: [o["metadata"]["name"], o.get("type", "Opaque"), len(o.get("data") or {}), _age(o)]),
    ("autoscaling", "horizontalpodautoscalers"): (
        [NAME_COLUMN, _col("Reference"), _col("Targets"), _col("MinPods", "integer"), _col("MaxPods", "integer"),
         _col("Replicas", "integer"), AGE_COLUMN], _hpa_row),
    ("", "events"): ([_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")], _event_row),
    ("apiextensions.k8s.io", "customresourcedefinitions"): (
        [NAME_COLUMN, _col("Created At", "date")],
        lambda o: [o["metadata"]["name"], o["metadata"].get("creationTimestamp")]),
}


def _custom_columns(info):
    cols = [NAME_COLUMN]
    for pc in info.printer_columns:
        cols.append(_col(pc.get("name", ""), pc.get("type", "string"), pc.get("description", ""),
                         int(pc.get("priority", 0)), pc.get("format", "")))
    return cols


def _custom_cell(obj, pc):
    values = jsonpath(obj, pc.get("jsonPath", ""))
    if not values:
        return None
    value = values[0] if len(values) == 1 else ",".join(str(v) for v in values)
    if pc.get("type") == "date" and isinstance(value, str):
        return human_age(value)
    if isinstance(value, (dict, list)):
        import json
        return json.dumps(value, separators=(",", ":"))
    return value


def _columns_and_row(info):
    if info.custom and info.printer_columns:
        return _custom_columns(info), lambda o: [o["metadata"]["name"]] + [
            _custom_cell(o, pc) for pc in info.printer_columns]
    builtin = _BUILTIN.get((info.group, info.plural))
    if builtin and not info.custom:
        return builtin
    return [NAME_COLUMN, AGE_COLUMN], lambda o: [o["metadata"]["name"], _age(o)]


def _row_object(obj, include_object):
    if include_object == "None":
        return None
    if include_object == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def to_table(info, objs: list[dict], resource_version: str | None = None, include_object: str = "Metadata",
             headers: bool = True) -> dict:
    columns, row = _columns_and_row(info)
    rows = []
    for obj in objs:
        entry = {"cells": row(obj)}
        ro = _row_object(obj, include_object)
        if ro is not None:
            entry["object"] = ro
        rows.append(entry)
    table = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": columns,
             "rows": rows}
    if not headers:
        table["columnDefinitions"] = []
    if resource_version is not None:
        table["metadata"]["resourceVersion"] = resource_version
    return table
