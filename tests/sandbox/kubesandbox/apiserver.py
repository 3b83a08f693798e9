"""The emulated Kubernetes API: HTTP front of the store (REST, watch, discovery, proxy, faults).

Speaks JSON (and reads the protobuf bodies kubectl's typed clients send, see protobuf.py). Known
differences from a real kube-apiserver: no authentication or authorization; no schema validation
or pruning of custom resources (fieldValidation is accepted and ignored); server-side apply merges
the applied fields and drops those the same manager stopped applying, but keeps no managedFields
and never reports conflicts; namespaces and foreground deletions complete at once; only the
legacy (non-aggregated) discovery documents are served; list pages are cut from the current state.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import time

import yaml
from aiohttp import ClientError, ClientSession, ClientTimeout, web

from . import discovery, protobuf, tables
from .errors import ApiError, not_found
from .faults import Faults, RequestLog, Target, injected_answer, parse_target, request_verb  # noqa: F401
from .patch import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, PATCH_TYPES, STRATEGIC_PATCH, apply_patch, \
    server_side_apply
from .store import Store, clone

log = logging.getLogger(__name__)

BOOKMARK_INTERVAL = 10.0
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "host", "content-length", "authorization"}
TARGET_KEY = web.RequestKey("target", object)
START_KEY = web.RequestKey("start", float)
LOGGED_KEY = web.RequestKey("logged", bool)


def _json_response(obj, status=200, headers=None) -> web.Response:
    return web.Response(body=json.dumps(obj, separators=(",", ":")).encode(), status=status,
                        content_type="application/json", headers=headers)


def _error_response(err: ApiError, headers=None) -> web.Response:
    return _json_response(err.status_object(), err.code, headers)


def _wants_metadata_only(request) -> bool:
    # The metadata client (garbage collectors, `kubectl` in a few places) asks for this form.
    accept = request.headers.get("Accept", "")
    return "as=PartialObjectMetadata" in accept and "as=Table" not in accept


def _partial(obj: dict) -> dict:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def _dry_run(request) -> bool:
    return "All" in request.query.getall("dryRun", [])


def _label_selector_string(selector: dict | None) -> str:
    if not selector:
        return ""
    terms = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        op = expr.get("operator")
        key = expr.get("key")
        values = ",".join(expr.get("values") or [])
        terms.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key,
                      "DoesNotExist": f"!{key}"}.get(op, key))
    return ",".join(terms)


def _get_path(obj, dotted: str):
    cur = obj
    for part in dotted.strip(".").split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _set_path(obj, dotted: str, value):
    parts = dotted.strip(".").split(".")
    cur = obj
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


class ApiServer:
    def __init__(self, store: Store, faults: Faults, request_log: RequestLog, service_proxy_resolver=None):
        self.store = store
        self.faults = faults
        self.request_log = request_log
        self.resolver = service_proxy_resolver
        self._watch_queues: set[asyncio.Queue] = set()
        self._session: ClientSession | None = None
        # Last configuration each field manager applied, so a re-apply can drop fields it no longer sets:
        # (group, plural, namespace, name) -> {(manager, subresource): applied object}.
        self._applied: dict[tuple, dict] = {}
        store.add_watcher(self._forget_applied)

    def _forget_applied(self, event):
        if event.type == "DELETED" and self._applied:
            self._applied.pop(event.key + (event.namespace, event.obj["metadata"]["name"]), None)

    # ----- middleware: faults and the request log --------------------------------------------------
    @web.middleware
    async def middleware(self, request: web.Request, handler):
        start = time.monotonic()
        request[START_KEY] = start
        target = parse_target(request.path)
        request[TARGET_KEY] = target
        verb = request_verb(request.method, target, request.query)
        status = 0
        request[LOGGED_KEY] = False
        try:
            resp = await injected_answer(self.faults, request, target) or await handler(request)
            status = resp.status
            return resp
        finally:
            if not request[LOGGED_KEY]:
                self._log(request, verb, status, start)

    def _log(self, request, verb, status, start):
        request[LOGGED_KEY] = True
        self.request_log.record(verb, request.path, status, time.monotonic() - start,
                                request.headers.get("User-Agent", ""), method=request.method,
                                query=request.query_string)

    # ----- routing ----------------------------------------------------------------------------------
    async def dispatch(self, request: web.Request):
        try:
            target = request[TARGET_KEY]
            if target is None:
                return self.non_resource(request)
            return await self.resource(request, target)
        except ApiError as err:
            return _error_response(err)
        except Exception as exc:  # noqa: BLE001 - a handler bug must still answer as the API would
            log.exception("internal error on %s %s", request.method, request.path)
            return _error_response(ApiError(500, "InternalError", f"internal error: {exc}"))

    def non_resource(self, request):
        path = request.path.rstrip("/") or "/"
        store = self.store
        if request.method != "GET":
            raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on {path}")
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        if path == "/version":
            return _json_response(discovery.SERVER_VERSION)
        if path == "/api":
            return _json_response(discovery.core_versions())
        groups = self._served_groups()
        if path == "/apis":
            return _json_response(discovery.api_group_list(groups))
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2 and parts[1] == "v1":
            return _json_response(discovery.resource_list("", "v1", self._infos("", "v1")))
        if parts[0] == "apis" and len(parts) == 2 and parts[1] in groups:
            return _json_response(discovery.api_group(parts[1], groups[parts[1]]))
        if parts[0] == "apis" and len(parts) == 3 and parts[2] in groups.get(parts[1], []):
            return _json_response(discovery.resource_list(parts[1], parts[2], self._infos(parts[1], parts[2])))
        if parts[:2] == ["openapi", "v3"]:
            gvs = sorted({(i.group, i.version) for i in store.resources()})
            if len(parts) == 2:
                return _json_response(discovery.openapi_v3_root(gvs))
            rest = parts[2:]
            gv = ("", rest[1]) if rest[0] == "api" and len(rest) == 2 else \
                (rest[1], rest[2]) if rest[0] == "apis" and len(rest) == 3 else None
            if gv in gvs:
                return _json_response(discovery.openapi_v3_group_version(gv[0], gv[1], self._infos(*gv)))
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _infos(self, group, version):
        return [i for i in self.store.resources() if i.group == group and i.version == version]

    def _served_groups(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for info in self.store.resources():
            if info.group and info.version not in groups.setdefault(info.group, []):
                groups[info.group].append(info.version)
        return groups

    async def resource(self, request, t: Target):
        info = self.store.resource_info(t.gvr)
        if info is None or (t.namespace is not None and not info.namespaced):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        method = request.method
        if t.subresource == "proxy" and info.gvr == ("", "v1", "services") and t.name:
            return await self.proxy(request, t)
        if t.subresource and t.subresource not in info.subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if t.name is None:
            if method == "GET":
                if request.query.get("watch") in ("true", "1"):
                    return await self.watch(request, info, t)
                return self.list(request, info, t)
            if method == "POST":
                return await self.create(request, info, t)
            if method == "DELETE":
                return await self.delete_collection(request, info, t)
            raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on {info.plural}")
        if method == "GET":
            if request.query.get("watch") in ("true", "1"):
                return await self.watch(request, info, t)
            obj = self.store.get(info.gvr, t.namespace, t.name)
            if t.subresource == "scale":
                return _json_response(self._scale_of(info, obj))
            return self._respond_objects(request, info, obj)
        if method == "PUT":
            return await self.replace(request, info, t)
        if method == "PATCH":
            return await self.patch(request, info, t)
        if method == "DELETE":
            return await self.delete(request, info, t)
        raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on {info.plural}/{t.name}")

    # ----- helpers ----------------------------------------------------------------------------------
    async def _body(self, request):
        raw = await request.read()
        if not raw:
            return None
        ctype = request.content_type or ""
        if "protobuf" in ctype:
            return protobuf.decode(raw)
        if "cbor" in ctype:
            # client-go answers a 415 to CBOR by retrying the request as JSON.
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                                        "accepted media types include: application/json, "
                                                        "application/yaml")
        try:
            if "yaml" in ctype:
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise ApiError(400, "BadRequest", f"the body of the request could not be decoded: {exc}") from None

    def _respond_objects(self, request, info, obj, status=200):
        if _wants_metadata_only(request):
            return _json_response(_partial(obj), status)
        if tables.wants_table(request.headers.get("Accept", "")):
            return _json_response(tables.to_table(info, [obj], obj["metadata"].get("resourceVersion"),
                                                  request.query.get("includeObject", "Metadata")), status)
        return _json_response(obj, status)

    def _prepare_write(self, info, t: Target, obj) -> dict:
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the body of the request must be a JSON or YAML object")
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        if info.namespaced:
            if meta.get("namespace") and meta["namespace"] != t.namespace:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the "
                                                  "namespace sent on the request")
            meta["namespace"] = t.namespace
        if t.name and meta.get("name") and meta["name"] != t.name:
            raise ApiError(400, "BadRequest", f"the name of the object ({meta['name']}) does not match the name on "
                                              f"the URL ({t.name})")
        if t.name and not meta.get("name"):
            meta["name"] = t.name
        return obj

    # ----- reads ------------------------------------------------------------------------------------
    def list(self, request, info, t):
        q = request.query
        items = self.store.list(info.gvr, t.namespace, q.get("labelSelector"), q.get("fieldSelector"))
        rv = str(self.store.resource_version)
        items, list_meta = self._page(q, items, rv)
        if tables.wants_table(request.headers.get("Accept", "")):
            table = tables.to_table(info, items, rv, q.get("includeObject", "Metadata"))
            table["metadata"] = list_meta
            return _json_response(table)
        if _wants_metadata_only(request):
            return _json_response({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                                   "metadata": list_meta, "items": [_partial(i) for i in items]})
        return _json_response({"kind": info.list_kind, "apiVersion": info.api_version,
                               "metadata": list_meta, "items": items})

    @staticmethod
    def _page(query, items, rv):
        """limit/continue paging. Pages are cut from the current state, not from a snapshot."""
        start = 0
        token = query.get("continue")
        if token:
            try:
                start = int(json.loads(base64.urlsafe_b64decode(token.encode()))["start"])
            except (ValueError, KeyError, TypeError):
                raise ApiError(400, "BadRequest", "invalid continue token") from None
        meta = {"resourceVersion": rv}
        limit = int(query["limit"]) if query.get("limit", "").isdigit() and int(query["limit"]) > 0 else None
        if limit is None:
            return items[start:], meta
        page = items[start:start + limit]
        if start + limit < len(items):
            meta["continue"] = base64.urlsafe_b64encode(json.dumps({"start": start + limit}).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - limit
        return page, meta

    def _scale_of(self, info, obj):
        meta = obj["metadata"]
        if info.custom:
            paths = info.scale_paths
            replicas = _get_path(obj, paths.get("specReplicasPath", ".spec.replicas"))
            status_replicas = _get_path(obj, paths.get("statusReplicasPath", ".status.replicas"))
            selector = _get_path(obj, paths["labelSelectorPath"]) if paths.get("labelSelectorPath") else None
        else:
            replicas = (obj.get("spec") or {}).get("replicas", 1)
            status_replicas = (obj.get("status") or {}).get("replicas", 0)
            selector = _label_selector_string((obj.get("spec") or {}).get("selector"))
        status = {"replicas": status_replicas or 0}
        if selector:
            status["selector"] = selector
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": meta["name"], "namespace": meta.get("namespace"), "uid": meta["uid"],
                             "resourceVersion": meta["resourceVersion"],
                             "creationTimestamp": meta["creationTimestamp"]},
                "spec": {"replicas": replicas or 0}, "status": status}

    def _write_scale(self, info, current, scale, dry_run):
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(422, "Invalid", f'Scale "{current["metadata"]["name"]}" is invalid: spec.replicas: '
                                           f'Invalid value: {replicas!r}: must be greater than or equal to 0')
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        if rv:
            current["metadata"]["resourceVersion"] = rv
        path = info.scale_paths.get("specReplicasPath", ".spec.replicas") if info.custom else ".spec.replicas"
        _set_path(current, path, replicas)
        updated = self.store.update(info.gvr, current, dry_run=dry_run)
        return _json_response(self._scale_of(info, updated))

    # ----- writes -----------------------------------------------------------------------------------
    async def create(self, request, info, t):
        obj = self._prepare_write(info, t, await self._body(request))
        if "status" in info.subresources:
            obj.pop("status", None)
        created = self.store.create(info.gvr, obj, dry_run=_dry_run(request))
        return self._respond_objects(request, info, created, 201)

    async def replace(self, request, info, t):
        body = await self._body(request)
        dry_run = _dry_run(request)
        if t.subresource == "scale":
            current = self.store.get(info.gvr, t.namespace, t.name)
            return self._write_scale(info, current, body or {}, dry_run)
        obj = self._prepare_write(info, t, body)
        current = self.store.get(info.gvr, t.namespace, t.name)
        if t.subresource == "status":
            updated = self.store.update(info.gvr, obj, subresource="status", dry_run=dry_run)
            return self._respond_objects(request, info, updated)
        self._keep_status(info, obj, current)
        updated = self.store.update(info.gvr, obj, dry_run=dry_run)
        return self._respond_objects(request, info, updated)

    @staticmethod
    def _keep_status(info, obj, current):
        # With a status subresource, the main endpoint ignores status changes, as in Kubernetes.
        if "status" in info.subresources:
            if "status" in current:
                obj["status"] = current["status"]
            else:
                obj.pop("status", None)

    async def patch(self, request, info, t):
        ctype = (request.content_type or "").lower()
        if ctype not in PATCH_TYPES:
            raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                                                        f"accepted media types include: {', '.join(PATCH_TYPES)}")
        body = await self._body(request)
        dry_run = _dry_run(request)
        if ctype == APPLY_PATCH:
            return self._apply(request, info, t, body, dry_run)
        current = self.store.get(info.gvr, t.namespace, t.name)
        if t.subresource == "scale":
            scale = apply_patch(ctype, self._scale_of(info, current), body, False)
            return self._write_scale(info, current, scale, dry_run)
        patched = apply_patch(ctype, current, body, info.custom)
        patched = self._prepare_write(info, t, patched)
        if t.subresource == "status":
            updated = self.store.update(info.gvr, patched, subresource="status", dry_run=dry_run)
        else:
            self._keep_status(info, patched, current)
            updated = self.store.update(info.gvr, patched, dry_run=dry_run)
        return self._respond_objects(request, info, updated)

    def _apply(self, request, info, t, body, dry_run):
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "apply patch must be a YAML or JSON object")
        manager = request.query.get("fieldManager")
        if not manager:
            raise ApiError(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: "
                                           "is required for apply patch")
        body = self._prepare_write(info, t, body)
        obj_key = (info.group, info.plural, t.namespace or "" if info.namespaced else "", t.name)
        key = (manager, t.subresource or "")
        try:
            current = self.store.get(info.gvr, t.namespace, t.name)
        except ApiError as err:
            if err.code != 404 or t.subresource:
                raise
            obj = clone(body)
            if "status" in info.subresources:
                obj.pop("status", None)
            created = self.store.create(info.gvr, obj, dry_run=dry_run)
            if not dry_run:
                self._applied.setdefault(obj_key, {})[key] = clone(body)
            return self._respond_objects(request, info, created, 201)
        applied = clone(body)
        applied.get("metadata", {}).pop("resourceVersion", None)
        merged = server_side_apply(current, applied, info.custom, self._applied.get(obj_key, {}).get(key))
        merged["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if t.subresource == "status":
            updated = self.store.update(info.gvr, merged, subresource="status", dry_run=dry_run)
        else:
            self._keep_status(info, merged, current)
            updated = self.store.update(info.gvr, merged, dry_run=dry_run)
        if not dry_run:
            self._applied.setdefault(obj_key, {})[key] = applied
        return self._respond_objects(request, info, updated)

    async def _delete_options(self, request):
        opts = {}
        if request.can_read_body:
            body = await self._body(request)
            if isinstance(body, dict):
                opts = body
        policy = request.query.get("propagationPolicy") or opts.get("propagationPolicy")
        orphan = request.query.get("orphanDependents") or opts.get("orphanDependents")
        if not policy:
            policy = "Orphan" if orphan in (True, "true") else "Background"
        if policy not in ("Background", "Foreground", "Orphan"):
            raise ApiError(422, "Invalid", f"DeleteOptions is invalid: propagationPolicy: Unsupported value: "
                                           f"\"{policy}\"")
        dry = _dry_run(request) or "All" in (opts.get("dryRun") or [])
        return policy, dry, opts.get("preconditions")

    async def delete(self, request, info, t):
        if t.subresource:
            raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on {t.subresource}")
        policy, dry_run, pre = await self._delete_options(request)
        deleted = self.store.delete(info.gvr, t.namespace, t.name, propagation_policy=policy, dry_run=dry_run,
                                    preconditions=pre)
        still_there = bool(deleted["metadata"].get("deletionTimestamp")) and not dry_run
        return _json_response(deleted, 202 if still_there else 200)

    async def delete_collection(self, request, info, t):
        policy, dry_run, _pre = await self._delete_options(request)
        q = request.query
        items = self.store.list(info.gvr, t.namespace, q.get("labelSelector"), q.get("fieldSelector"))
        deleted = []
        for item in items:
            meta = item["metadata"]
            try:
                deleted.append(self.store.delete(info.gvr, meta.get("namespace"), meta["name"],
                                                 propagation_policy=policy, dry_run=dry_run))
            except ApiError as err:
                if err.code != 404:  # already collected as a dependent of an earlier item
                    raise
        return _json_response({"kind": info.list_kind, "apiVersion": info.api_version,
                               "metadata": {"resourceVersion": str(self.store.resource_version)}, "items": deleted})

    # ----- watch ------------------------------------------------------------------------------------
    async def watch(self, request, info, t):
        q = request.query
        label_sel = q.get("labelSelector")
        field_sel = q.get("fieldSelector")
        if t.name:
            field_sel = ",".join(filter(None, [field_sel, f"metadata.name={t.name}"]))
        self.store.matches({}, label_sel, field_sel)  # reject a malformed selector before streaming
        as_table = tables.wants_table(request.headers.get("Accept", ""))
        metadata_only = _wants_metadata_only(request)
        include_object = q.get("includeObject", "Metadata")
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        send_initial = q.get("sendInitialEvents") in ("true", "1")
        rv_param = q.get("resourceVersion", "")
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
        replay = not (send_initial or rv_param in ("", "0"))
        try:
            since = int(rv_param) if replay else 0
        except ValueError:
            raise ApiError(400, "BadRequest", f"invalid resourceVersion {rv_param!r}") from None
        skip_until = 0
        key = (info.group, info.plural)
        ns = t.namespace if info.namespaced else None

        queue: asyncio.Queue = asyncio.Queue()

        def on_event(event):
            if event.key == key and (ns is None or event.namespace == ns):
                queue.put_nowait(event)

        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                       "Cache-Control": "no-cache"})
        resp.enable_chunked_encoding()
        self.store.add_watcher(on_event)
        self._watch_queues.add(queue)
        first = [True]

        def encode(etype, obj):
            if as_table and etype not in ("BOOKMARK", "ERROR"):
                obj = tables.to_table(info, [obj], obj["metadata"].get("resourceVersion"), include_object,
                                      headers=first[0])
                first[0] = False
            return (json.dumps({"type": etype, "object": obj}, separators=(",", ":")) + "\n").encode()

        def out(obj):
            if metadata_only:
                return _partial(clone(obj))
            obj = clone(obj)
            obj["apiVersion"] = info.api_version
            obj["kind"] = info.kind
            return obj

        def bookmark(initial_end=False):
            meta = {"resourceVersion": str(self.store.resource_version)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return encode("BOOKMARK", {"kind": info.kind, "apiVersion": info.api_version, "metadata": meta})

        try:
            await resp.prepare(request)
            # A watch can stay open for the whole run; log it when it starts so counts are current.
            self._log(request, "watch", 200, request[START_KEY])
            initial: list[bytes] = []
            if not replay:
                # Changes queued while the response was being prepared are already in this listing.
                skip_until = self.store.resource_version
                for obj in self.store.list(info.gvr, ns, label_sel, field_sel):
                    initial.append(encode("ADDED", _partial(obj) if metadata_only else obj))
                if send_initial and bookmarks:
                    initial.append(bookmark(initial_end=True))
            else:
                if since < self.store.history_floor:
                    gone = ApiError(410, "Expired", f"too old resource version: {since} "
                                                    f"({self.store.history_floor})")
                    await resp.write(encode("ERROR", gone.status_object()))
                    return resp
                # Events already queued are newer than the history replayed here; skip duplicates.
                replay_until = self.store.resource_version
                for event in self.store.history:
                    if since < event.rv <= replay_until and event.key == key and (
                            ns is None or event.namespace == ns):
                        item = self._filter_event(event, label_sel, field_sel)
                        if item:
                            initial.append(encode(item[0], out(item[1])))
                skip_until = replay_until
            if initial:
                await resp.write(b"".join(initial))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout if timeout else None
            while True:
                wait = BOOKMARK_INTERVAL if bookmarks else 5.0
                if deadline is not None:
                    wait = min(wait, deadline - loop.time())
                    if wait <= 0:
                        break
                try:
                    event = await asyncio.wait_for(queue.get(), wait)
                except asyncio.TimeoutError:
                    if request.transport is None or request.transport.is_closing():
                        break
                    if bookmarks and (deadline is None or deadline > loop.time()):
                        await resp.write(bookmark())
                    continue
                if event is None:
                    break
                if event.rv <= skip_until:
                    continue
                item = self._filter_event(event, label_sel, field_sel)
                if item:
                    await resp.write(encode(item[0], out(item[1])))
        except ConnectionError:
            pass  # the client went away; nothing to tell it
        finally:
            self.store.remove_watcher(on_event)
            self._watch_queues.discard(queue)
        return resp

    def _filter_event(self, event, label_sel, field_sel):
        if not (label_sel or field_sel):
            return event.type, event.obj
        now = self.store.matches(event.obj, label_sel, field_sel)
        if event.type == "ADDED":
            return ("ADDED", event.obj) if now else None
        if event.type == "DELETED":
            return ("DELETED", event.obj) if now else None
        before = event.old is not None and self.store.matches(event.old, label_sel, field_sel)
        if now and before:
            return "MODIFIED", event.obj
        if now:
            return "ADDED", event.obj
        if before:
            return "DELETED", event.obj
        return None

    # ----- services/proxy ----------------------------------------------------------------------------
    async def proxy(self, request, t: Target):
        parts = t.name.split(":")
        if len(parts) == 3:
            _scheme, svc, port = parts
        else:
            svc, port = parts[0], (parts[1] if len(parts) > 1 else None)
        self.store.get(("", "v1", "services"), t.namespace, svc)
        target = self.resolver(t.namespace, svc, port or None) if self.resolver else None
        if not target:
            raise ApiError(503, "ServiceUnavailable", f'no endpoints available for service "{t.name}"')
        host, tport = target
        url = f"http://{host}:{tport}{t.rest or '/'}"
        if request.query_string:
            url += "?" + request.query_string
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        if self._session is None:
            self._session = ClientSession(timeout=ClientTimeout(total=None, sock_connect=5), auto_decompress=False)
        body = await request.read()
        try:
            async with self._session.request(request.method, url, headers=headers, data=body or None,
                                             allow_redirects=False) as upstream:
                resp = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                for k, v in upstream.headers.items():
                    if k.lower() not in HOP_BY_HOP:
                        resp.headers.add(k, v)
                await resp.prepare(request)
                async for chunk in upstream.content.iter_chunked(65536):
                    await resp.write(chunk)
                await resp.write_eof()
                return resp
        except (ClientError, OSError) as exc:
            raise ApiError(503, "ServiceUnavailable", f"error trying to reach service: {exc}") from None

    async def shutdown(self, _app=None):
        for queue in list(self._watch_queues):
            queue.put_nowait(None)
        if self._session is not None:
            await self._session.close()
            self._session = None


API_SERVER_KEY = web.AppKey("api_server", ApiServer)


def make_api_app(store: Store, faults: Faults, request_log: RequestLog, service_proxy_resolver=None) -> web.Application:
    api = ApiServer(store, faults, request_log, service_proxy_resolver)
    app = web.Application(middlewares=[api.middleware], client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", api.dispatch)
    app.on_shutdown.append(api.shutdown)
    app[API_SERVER_KEY] = api
    return app


def _default_namespaces(store: Store):
    for name in ("default", "kube-system", "kube-public"):
        store.create(("", "v1", "namespaces"), {"metadata": {"name": name}})


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the emulated Kubernetes API alone (no controllers).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    if not args.host.startswith("127."):
        parser.error("the emulator only listens on loopback addresses")
    logging.basicConfig(level=logging.INFO)
    store = Store()
    _default_namespaces(store)
    app = make_api_app(store, Faults(), RequestLog())
    web.run_app(app, host=args.host, port=args.port, print=lambda *_: print(
        f"API server on http://{args.host}:{args.port}", flush=True), shutdown_timeout=1)


if __name__ == "__main__":
    main()
