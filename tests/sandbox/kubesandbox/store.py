"""In-memory object store with Kubernetes write semantics.

All methods are synchronous and meant to run on the event loop thread. Objects handed in or out are
copies, so callers can never change stored state by accident.

The store trusts its in-process callers (the controllers): `update()` without a subresource stores
the object as given, status included. The API server layers the client-facing rules on top (a
status subresource makes the main endpoint ignore status, created objects lose their status).
"""
from __future__ import annotations

import collections
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from .defaults import apply_defaults
from .discovery import BUILTIN_RESOURCES, ResourceInfo
from .errors import ApiError, invalid, not_found
from .selection import fields_match, labels_match, parse_field_selector, parse_label_selector

__all__ = ["ApiError", "Store", "ResourceInfo", "WatchEvent", "clone", "now_iso"]

log = logging.getLogger(__name__)

CRD_GVR = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")
NAMESPACE_GVR = ("", "v1", "namespaces")
HISTORY_SIZE = 20000

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Kinds whose names must be DNS-1123 labels rather than subdomains, as in Kubernetes.
_LABEL_NAMED = {("", "namespaces"), ("", "services")}


def clone(value):
    """Deep copy for JSON-shaped data; several times faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class WatchEvent:
    rv: int
    type: str
    key: tuple          # (group, plural)
    namespace: str
    obj: dict           # stored object after the change (before, for DELETED)
    old: dict | None    # stored object before the change


def _spec_part(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class Store:
    def __init__(self):
        self._rv = 0
        self._resources: dict[tuple, ResourceInfo] = {}
        self._by_key: dict[tuple, list[ResourceInfo]] = {}
        self._data: dict[tuple, dict[tuple, dict]] = collections.defaultdict(dict)
        self._dependents: dict[str, set] = collections.defaultdict(set)  # owner uid -> {(key, ns, name)}
        self._listeners = []
        self._watchers = set()
        self._admission = collections.defaultdict(list)
        self.history: collections.deque[WatchEvent] = collections.deque(maxlen=HISTORY_SIZE)
        self.history_floor = 0  # events with rv > floor are all in history
        for info in BUILTIN_RESOURCES:
            self._register(info)

    # ----- catalogue -------------------------------------------------------------------------
    def _register(self, info: ResourceInfo):
        self._resources[info.gvr] = info
        infos = [i for i in self._by_key.get((info.group, info.plural), []) if i.version != info.version]
        self._by_key[(info.group, info.plural)] = infos + [info]

    def _unregister_key(self, key):
        for info in self._by_key.pop(key, []):
            self._resources.pop(info.gvr, None)

    def resource_info(self, gvr) -> ResourceInfo | None:
        return self._resources.get(tuple(gvr))

    def resources(self) -> list[ResourceInfo]:
        return list(self._resources.values())

    def find_resource(self, group: str, version: str, name: str) -> ResourceInfo | None:
        """Look a resource up by plural, singular, kind or short name (as kubectl users type them)."""
        info = self._resources.get((group, version, name))
        if info:
            return info
        lname = name.lower()
        for info in self._resources.values():
            if info.group == group and info.version == version and (
                    lname in (info.singular, info.kind.lower()) or lname in info.short_names):
                return info
        return None

    def _info(self, gvr) -> ResourceInfo:
        info = self._resources.get(tuple(gvr))
        if info is None:
            group, version, plural = gvr
            raise ApiError(404, "NotFound",
                           f"the server could not find the requested resource ({plural}.{group}/{version})",
                           {"group": group, "kind": plural})
        return info

    @property
    def resource_version(self) -> int:
        return self._rv

    # ----- hooks -----------------------------------------------------------------------------
    def add_listener(self, fn):
        self._listeners.append(fn)

    def remove_listener(self, fn):
        if fn in self._listeners:
            self._listeners.remove(fn)

    def add_watcher(self, fn):
        """fn(WatchEvent); used by the API server's watch streams."""
        self._watchers.add(fn)

    def remove_watcher(self, fn):
        self._watchers.discard(fn)

    def add_admission(self, gvr, fn):
        self._admission[(gvr[0], gvr[2])].append(fn)

    # ----- reads -----------------------------------------------------------------------------
    def _out(self, info: ResourceInfo, obj: dict) -> dict:
        out = {"apiVersion": info.api_version, "kind": info.kind}
        for key, value in obj.items():
            if key not in out:
                out[key] = clone(value)
        return out

    def _check_ns(self, info, namespace):
        if info.namespaced and not namespace:
            raise ApiError(400, "BadRequest", f"{info.plural} is namespaced: a namespace is required")
        return namespace if info.namespaced else ""

    def get(self, gvr, namespace, name) -> dict:
        info = self._info(gvr)
        ns = self._check_ns(info, namespace)
        obj = self._data[(info.group, info.plural)].get((ns, name))
        if obj is None:
            raise not_found(info, name)
        return self._out(info, obj)

    def get_raw(self, gvr, namespace, name) -> dict | None:
        """The stored object itself, without a copy. Read-only by convention (hot paths only)."""
        info = self._info(gvr)
        return self._data[(info.group, info.plural)].get((namespace or "" if info.namespaced else "", name))

    def list(self, gvr, namespace=None, label_selector=None, field_selector=None) -> list[dict]:
        info = self._info(gvr)
        lreq = parse_label_selector(label_selector)
        freq = parse_field_selector(field_selector)
        items = []
        bucket = self._data[(info.group, info.plural)]
        for (ns, _name), obj in sorted(bucket.items()):
            if namespace and info.namespaced and ns != namespace:
                continue
            if lreq and not labels_match(obj["metadata"].get("labels"), lreq):
                continue
            if freq and not fields_match(obj, freq):
                continue
            items.append(self._out(info, obj))
        return items

    def matches(self, obj, label_selector=None, field_selector=None) -> bool:
        lreq = parse_label_selector(label_selector)
        freq = parse_field_selector(field_selector)
        return labels_match(obj.get("metadata", {}).get("labels"), lreq) and fields_match(obj, freq)

    # ----- writes ----------------------------------------------------------------------------
    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _validate(self, info, obj, namespace):
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            raise invalid(info, "", [("metadata", "Required value: metadata is required")])
        name = meta.get("name") or ""
        if not name:
            raise invalid(info, "", [("metadata.name", "Required value: name or generateName is required")])
        pattern = _DNS_LABEL if (info.group, info.plural) in _LABEL_NAMED else _DNS_SUBDOMAIN
        limit = 63 if pattern is _DNS_LABEL else 253
        if not pattern.match(name) or len(name) > limit:
            what = "RFC 1123 label" if pattern is _DNS_LABEL else "RFC 1123 subdomain"
            raise invalid(info, name, [("metadata.name", f"Invalid value: \"{name}\": a lowercase {what} must consist "
                                        "of lower case alphanumeric characters, '-' or '.', and must start and end "
                                        "with an alphanumeric character")])
        kind = obj.get("kind")
        if kind and kind != info.kind:
            raise invalid(info, name, [("kind", f"Invalid value: \"{kind}\": must be {info.kind}")])
        api_version = obj.get("apiVersion")
        if api_version and (api_version.rsplit("/", 1)[0] if "/" in api_version else "") != info.group:
            raise invalid(info, name, [("apiVersion", f"Invalid value: \"{api_version}\": must be {info.api_version}")])
        if info.namespaced:
            if namespace and meta.get("namespace") and meta["namespace"] != namespace:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                                                  "sent on the request")
            if not (namespace or meta.get("namespace")):
                raise invalid(info, name, [("metadata.namespace", "Required value")])
        if info.gvr == CRD_GVR:
            self._validate_crd(info, obj)

    def _validate_crd(self, info, crd):
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        name = crd["metadata"]["name"]
        causes = []
        if not spec.get("group"):
            causes.append(("spec.group", "Required value"))
        if not names.get("plural") or not names.get("kind"):
            causes.append(("spec.names", "Required value: plural and kind are required"))
        elif name != f"{names['plural']}.{spec.get('group')}":
            causes.append(("metadata.name", f"Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"))
        if not spec.get("versions"):
            causes.append(("spec.versions", "Required value"))
        if causes:
            raise invalid(info, name, causes)

    def _admit(self, info, op, obj, old):
        for fn in self._admission.get((info.group, info.plural), []):
            fn(op, obj, old)

    def _ensure_namespace(self, info, ns):
        if info.namespaced and ns not in {k[1] for k in self._data[("", "namespaces")]}:
            raise not_found("namespaces", ns)

    def create(self, gvr, obj: dict, dry_run: bool = False) -> dict:
        info = self._info(gvr)
        obj = clone(obj)
        meta = obj.setdefault("metadata", {}) if isinstance(obj.get("metadata", {}), dict) else obj["metadata"]
        if isinstance(meta, dict) and not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        self._validate(info, obj, meta.get("namespace"))
        ns = meta.get("namespace", "") if info.namespaced else ""
        if not info.namespaced:
            meta.pop("namespace", None)
        self._ensure_namespace(info, ns)
        key = (info.group, info.plural)
        if (ns, meta["name"]) in self._data[key]:
            raise ApiError(409, "AlreadyExists", f'{info.plural}{"." + info.group if info.group else ""} '
                                                 f'"{meta["name"]}" already exists',
                           {"name": meta["name"], "group": info.group, "kind": info.plural})
        for drop in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp", "managedFields", "selfLink"):
            meta.pop(drop, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_iso()
        meta["generation"] = 1
        if info.gvr == NAMESPACE_GVR:
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        if info.gvr == CRD_GVR:
            self._crd_status(obj)
        apply_defaults(info.group, info.plural, obj)
        self._admit(info, "CREATE", obj, None)
        obj["apiVersion"] = f"{info.group}/{info.storage_version}" if info.group else info.storage_version
        obj["kind"] = info.kind
        if dry_run:
            meta["resourceVersion"] = str(self._rv)
            return self._out(info, obj)
        meta["resourceVersion"] = self._next_rv()
        self._data[key][(ns, meta["name"])] = obj
        self._index_owners(key, ns, None, obj)
        self._emit("ADDED", info, key, ns, obj, None)
        if info.gvr == CRD_GVR:
            self._apply_crd(obj)
        return self._out(info, obj)

    def update(self, gvr, obj: dict, subresource: str | None = None, dry_run: bool = False) -> dict:
        """Replace an object. A stale metadata.resourceVersion is a 409; none means unconditional.

        subresource="status" takes only .status from obj. A write that changes nothing keeps the
        resourceVersion and sends no event, like Kubernetes.
        """
        info = self._info(gvr)
        obj = clone(obj)
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace", "") if info.namespaced else ""
        key = (info.group, info.plural)
        name = meta.get("name")
        if not name:
            raise invalid(info, "", [("metadata.name", "Required value: name is required")])
        old = self._data[key].get((ns, name))
        if old is None:
            raise not_found(info, name)
        rv = meta.get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {info.plural}'
                                            f'{"." + info.group if info.group else ""} "{name}": the object has been '
                                            f'modified; please apply your changes to the latest version and try again',
                           {"name": name, "group": info.group, "kind": info.plural})
        if subresource == "status":
            new = clone(old)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
        else:
            self._validate(info, obj, ns)
            new = obj
            new_meta = new["metadata"]
            for keep in ("uid", "creationTimestamp", "deletionTimestamp", "generation"):
                if keep in old["metadata"]:
                    new_meta[keep] = old["metadata"][keep]
            new_meta.pop("managedFields", None)
            if info.namespaced:
                new_meta["namespace"] = ns
            if info.gvr == NAMESPACE_GVR:
                new["status"] = old.get("status", {"phase": "Active"})
            if info.gvr == CRD_GVR:
                self._crd_status(new, old)
        new["apiVersion"] = old["apiVersion"]
        new["kind"] = info.kind
        if subresource != "status":
            apply_defaults(info.group, info.plural, new)
        self._admit(info, "UPDATE", new, clone(old))
        if subresource != "status" and _spec_part(new) != _spec_part(old):
            new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old:
            return self._out(info, old)  # a no-op write leaves resourceVersion alone, like Kubernetes
        if dry_run:
            return self._out(info, new)
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self._remove(info, key, ns, name, "Background")
        meta["resourceVersion"] = self._next_rv()
        self._data[key][(ns, name)] = new
        self._index_owners(key, ns, old, new)
        self._emit("MODIFIED", info, key, ns, new, old)
        if info.gvr == CRD_GVR:
            self._apply_crd(new)
        return self._out(info, new)

    def delete(self, gvr, namespace, name, propagation_policy: str = "Background", dry_run: bool = False,
               preconditions: dict | None = None) -> dict:
        info = self._info(gvr)
        ns = self._check_ns(info, namespace)
        key = (info.group, info.plural)
        obj = self._data[key].get((ns, name))
        if obj is None:
            raise not_found(info, name)
        pre = preconditions or {}
        if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"] or \
                pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict",
                           f'Operation cannot be fulfilled on {info.plural} "{name}": precondition failed')
        if dry_run:
            return self._out(info, obj)
        if obj["metadata"].get("finalizers"):
            if obj["metadata"].get("deletionTimestamp"):
                return self._out(info, obj)
            new = clone(obj)
            new["metadata"]["deletionTimestamp"] = now_iso()
            new["metadata"]["resourceVersion"] = self._next_rv()
            self._data[key][(ns, name)] = new
            self._emit("MODIFIED", info, key, ns, new, obj)
            return self._out(info, new)
        return self._remove(info, key, ns, name, propagation_policy)

    def _remove(self, info, key, ns, name, propagation_policy):
        obj = self._data[key].pop((ns, name))
        obj = clone(obj)
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._index_owners(key, ns, obj, None)
        self._emit("DELETED", info, key, ns, obj, obj)
        if info.gvr == NAMESPACE_GVR:
            self._purge_namespace(name)
        elif info.gvr == CRD_GVR:
            self._drop_crd(obj)
        self._collect_dependents(obj["metadata"]["uid"], propagation_policy)
        return self._out(info, obj)

    def _purge_namespace(self, ns):
        for key, bucket in list(self._data.items()):
            infos = self._by_key.get(key)
            if not infos or not infos[0].namespaced:
                continue
            for (obj_ns, name) in [k for k in bucket if k[0] == ns]:
                if (obj_ns, name) in bucket:
                    self._remove(infos[0], key, obj_ns, name, "Background")

    def _collect_dependents(self, owner_uid, policy):
        dependents = self._dependents.pop(owner_uid, set())
        for key, ns, name in sorted(dependents):
            obj = self._data.get(key, {}).get((ns, name))
            infos = self._by_key.get(key)
            if obj is None or not infos:
                continue
            remaining = [r for r in obj["metadata"].get("ownerReferences", []) if r.get("uid") != owner_uid]
            if policy == "Orphan" or any(self._uid_exists(r.get("uid")) for r in remaining):
                new = clone(obj)
                if remaining:
                    new["metadata"]["ownerReferences"] = remaining
                else:
                    new["metadata"].pop("ownerReferences", None)
                new["metadata"]["resourceVersion"] = self._next_rv()
                self._data[key][(ns, name)] = new
                self._index_owners(key, ns, obj, new)
                self._emit("MODIFIED", infos[0], key, ns, new, obj)
            else:
                self._remove(infos[0], key, ns, name, policy)

    def _uid_exists(self, uid):
        return uid in self._dependents or any(
            o["metadata"]["uid"] == uid for bucket in self._data.values() for o in bucket.values())

    def _index_owners(self, key, ns, old, new):
        for obj, add in ((old, False), (new, True)):
            if not obj:
                continue
            for ref in obj["metadata"].get("ownerReferences") or []:
                uid = ref.get("uid")
                if not uid:
                    continue
                if add:
                    self._dependents[uid].add((key, ns, obj["metadata"]["name"]))
                else:
                    deps = self._dependents.get(uid)
                    if deps:
                        deps.discard((key, ns, obj["metadata"]["name"]))
                        if not deps:
                            del self._dependents[uid]

    def _emit(self, etype, info, key, ns, obj, old):
        event = WatchEvent(int(obj["metadata"]["resourceVersion"]), etype, key, ns, obj, old)
        if len(self.history) == self.history.maxlen:
            self.history_floor = self.history[0].rv
        self.history.append(event)
        # The write is committed by now: a failing observer must not turn it into an error for the writer.
        for fn in list(self._watchers):
            try:
                fn(event)
            except Exception:  # noqa: BLE001
                log.exception("watch observer failed on %s %s", etype, key)
        if self._listeners:
            storage_gvr = (info.group, info.storage_version, info.plural)
            for fn in list(self._listeners):
                try:
                    fn(etype, storage_gvr, clone(obj))
                except Exception:  # noqa: BLE001
                    log.exception("store listener %r failed on %s %s", fn, etype, key)

    # ----- custom resource definitions ---------------------------------------------------------
    @staticmethod
    def _crd_status(crd, previous=None):
        spec = crd.get("spec") or {}
        # Conditions keep their transition time while they hold, so a no-op update stays a no-op.
        stamp = next((c.get("lastTransitionTime") for c in ((previous or {}).get("status") or {}).get("conditions", [])
                      if c.get("type") == "Established"), None) or now_iso()
        crd["status"] = {
            "acceptedNames": dict(spec.get("names") or {}),
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": stamp},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted", "lastTransitionTime": stamp},
            ],
            "storedVersions": [v["name"] for v in spec.get("versions") or [] if v.get("storage")],
        }

    def _apply_crd(self, crd):
        infos = ResourceInfo.from_crd(crd)
        if not infos:
            return
        key = (infos[0].group, infos[0].plural)
        old_versions = {i.version for i in self._by_key.get(key, [])}
        for version in old_versions - {i.version for i in infos}:
            self._resources.pop((key[0], version, key[1]), None)
        self._by_key[key] = []
        for info in infos:
            self._register(info)

    def _drop_crd(self, crd):
        spec = crd.get("spec") or {}
        key = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        infos = self._by_key.get(key)
        if infos:
            for (ns, name) in list(self._data.get(key, {})):
                self._remove(infos[0], key, ns, name, "Background")
        self._unregister_key(key)
        self._data.pop(key, None)
