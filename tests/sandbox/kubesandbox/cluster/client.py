"""A small asyncio client of the real API server: requests with a client certificate, and
list-then-watch loops that survive expired resource versions and dropped connections."""
import asyncio
import json
import logging
import ssl

import aiohttp

log = logging.getLogger(__name__)

CLUSTER_SCOPED = {"Namespace", "Node", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
WATCH_TIMEOUT = 300


class ApiError(Exception):
    def __init__(self, status, body):
        self.status = status
        self.body = body
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"{status}: {message}")


def object_path(obj, name=None):
    """The REST path of an object (or, with name=False, of its collection)."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    ns = obj.get("metadata", {}).get("namespace")
    if kind not in CLUSTER_SCOPED:
        prefix += f"/namespaces/{ns or 'default'}"
    path = f"{prefix}/{kind.lower()}s"
    if name is not False:
        path += f"/{name or obj['metadata']['name']}"
    return path


class Api:
    def __init__(self, url, ca_file, cert, key):
        self.url = url
        # Read on first use: the daemon makes its clients before it writes the certificates.
        self._files = (str(ca_file), str(cert), str(key))
        self._session = None

    @property
    def session(self):
        if self._session is None:
            ca_file, cert, key = self._files
            context = ssl.create_default_context(cafile=ca_file)
            context.load_cert_chain(cert, key)
            # Watch lines hold whole objects: allow big ones (CRDs, pods with long specs).
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, limit=50),
                                                  read_bufsize=4 * 1024 * 1024)
        return self._session

    async def close(self):
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method, path, body=None, params=None, content_type="application/json"):
        data = json.dumps(body) if body is not None else None
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        async with self.session.request(method, self.url + path, data=data, params=params, headers=headers,
                                        timeout=aiohttp.ClientTimeout(total=30)) as resp:
            text = await resp.text()
            try:
                payload = json.loads(text) if text else None
            except ValueError:
                payload = text
            if resp.status >= 400:
                raise ApiError(resp.status, payload)
            return payload

    async def get(self, path, **params):
        return await self.request("GET", path, params=params or None)

    async def get_or_none(self, path):
        try:
            return await self.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def create(self, obj, exist_ok=False):
        try:
            return await self.request("POST", object_path(obj, name=False), obj)
        except ApiError as exc:
            if exist_ok and exc.status == 409:
                return None
            raise

    async def patch(self, path, body, kind="strategic-merge"):
        return await self.request("PATCH", path, body, content_type=f"application/{kind}-patch+json")

    async def delete(self, path, body=None):
        try:
            return await self.request("DELETE", path, body)
        except ApiError as exc:
            if exc.status in (404, 409):
                return None
            raise


class Informer:
    """Lists then watches `path`, calling on_event(type, obj) with ADDED/MODIFIED/DELETED; after a
    relist, objects that vanished meanwhile are reported DELETED."""

    def __init__(self, api, path, on_event, **params):
        self.api = api
        self.path = path
        self.on_event = on_event
        self.params = params
        self.known = {}
        self.synced = asyncio.Event()

    @staticmethod
    def _key(obj):
        meta = obj["metadata"]
        return meta.get("namespace"), meta["name"]

    def _emit(self, event, obj):
        try:
            self.on_event(event, obj)
        except Exception:
            log.exception("handling %s %s failed", event, self.path)

    async def _list(self):
        body = await self.api.get(self.path, **self.params)
        fresh = {self._key(o): o for o in body.get("items") or []}
        for key, obj in list(self.known.items()):
            if key not in fresh:
                del self.known[key]
                self._emit("DELETED", obj)
        for key, obj in fresh.items():
            old = self.known.get(key)
            self.known[key] = obj
            if old is None:
                self._emit("ADDED", obj)
            elif old["metadata"].get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                self._emit("MODIFIED", obj)
        self.synced.set()
        return body["metadata"]["resourceVersion"]

    async def _watch(self, rv):
        params = dict(self.params, watch="1", resourceVersion=rv, allowWatchBookmarks="true",
                      timeoutSeconds=str(WATCH_TIMEOUT))
        timeout = aiohttp.ClientTimeout(total=None, sock_read=WATCH_TIMEOUT + 30)
        async with self.api.session.get(self.api.url + self.path, params=params, timeout=timeout) as resp:
            if resp.status >= 400:
                raise ApiError(resp.status, await resp.text())
            async for line in resp.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, obj = event["type"], event["object"]
                if kind == "ERROR":
                    # 410 Gone: our resource version is too old; anything else: start over too.
                    return None
                rv = obj["metadata"].get("resourceVersion", rv)
                if kind == "BOOKMARK":
                    continue
                if kind == "DELETED":
                    self.known.pop(self._key(obj), None)
                else:
                    self.known[self._key(obj)] = obj
                self._emit(kind, obj)
        return rv

    async def run(self):
        rv = None
        while True:
            try:
                if rv is None:
                    rv = await self._list()
                rv = await self._watch(rv)
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, asyncio.TimeoutError, ApiError, ValueError, OSError) as exc:
                log.warning("watch %s: %s; listing again", self.path, exc)
                rv = None
                await asyncio.sleep(0.5)
