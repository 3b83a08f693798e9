"""Run-time fault injection and the log of client requests, applied by the proxy in front of the API
server (cluster/apiproxy.py)."""
from __future__ import annotations

import asyncio
import collections
import random
import re
import time
from dataclasses import dataclass

from aiohttp import web

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_NAMESPACE_SUBRESOURCES = {"status", "finalize"}
FAULT_REASONS = {500: "InternalError", 503: "ServiceUnavailable", 429: "TooManyRequests", 504: "Timeout"}


@dataclass
class Target:
    """A resource request, parsed from its URL."""
    group: str
    version: str
    resource: str
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    rest: str = ""          # what follows a subresource (services/proxy)

    @property
    def gvr(self):
        return (self.group, self.version, self.resource)


def parse_target(path: str) -> Target | None:
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in _NAMESPACE_SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    target = Target(group, version, rest[0], namespace)
    if len(rest) > 1:
        target.name = rest[1]
    if len(rest) > 2:
        target.subresource = rest[2]
        marker = f"/{rest[1]}/{rest[2]}"
        idx = path.find(marker)
        target.rest = path[idx + len(marker):] if idx >= 0 else ""
    return target


def request_verb(method: str, target: Target | None, query) -> str:
    if target is None:
        return method.lower() if method != "GET" else "get"
    if method == "GET":
        if query.get("watch") in ("true", "1"):
            return "watch"
        return "get" if target.name else "list"
    if method == "DELETE" and not target.name:
        return "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, method.lower())


def fault_status(action, code, target, retry_after=None):
    """The Status body and headers the API server would answer an injected error or conflict with."""
    if action == "conflict":
        name = target.name if target and target.name else ""
        message = (f'Operation cannot be fulfilled on {target.resource if target else "object"} "{name}": '
                   "injected conflict; please apply your changes to the latest version and try again")
        reason = "Conflict"
    else:
        reason = FAULT_REASONS.get(code, "InternalError")
        message = f"injected fault: {reason}"
    headers = {"Retry-After": str(retry_after)} if retry_after is not None and action == "error" else None
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}
    return body, headers


class Faults:
    """What the API middleware does to client requests; all rates are shares between 0 and 1."""

    def __init__(self, seed: int | None = None):
        self._random = random.Random(seed)
        self.clear()

    def configure(self, *, error_rate: float = 0, error_codes: list[int] | None = None, latency: float = 0,
                  drop_rate: float = 0, conflict_rate: float = 0, retry_after: int | None = None,
                  paths: str | None = None):
        for name, rate in (("error_rate", error_rate), ("drop_rate", drop_rate), ("conflict_rate", conflict_rate)):
            if not 0 <= float(rate) <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {rate}")
        if float(latency) < 0:
            raise ValueError(f"latency must not be negative, got {latency}")
        codes = [int(c) for c in (error_codes if error_codes is not None else [500, 503, 429])]
        if not codes:
            raise ValueError("error_codes must not be empty")
        self.error_rate = float(error_rate)
        self.error_codes = codes
        self.latency = float(latency)
        self.drop_rate = float(drop_rate)
        self.conflict_rate = float(conflict_rate)
        self.retry_after = None if retry_after is None else int(retry_after)
        self.paths = paths or None
        self._paths_re = re.compile(paths) if paths else None

    def clear(self):
        self.configure()

    @property
    def active(self) -> bool:
        return bool(self.error_rate or self.latency or self.drop_rate or self.conflict_rate)

    def to_dict(self) -> dict:
        return {"error_rate": self.error_rate, "error_codes": list(self.error_codes), "latency": self.latency,
                "drop_rate": self.drop_rate, "conflict_rate": self.conflict_rate, "retry_after": self.retry_after,
                "paths": self.paths}

    def decide(self, method: str, path: str) -> tuple[float, str | None, int | None]:
        """(added latency, action, status code); action is None, "drop", "error" or "conflict"."""
        if not self.active or (self._paths_re and not self._paths_re.search(path)):
            return 0.0, None, None
        if self.drop_rate and self._random.random() < self.drop_rate:
            return self.latency, "drop", None
        if self.error_rate and self._random.random() < self.error_rate:
            return self.latency, "error", self._random.choice(self.error_codes)
        if self.conflict_rate and method in WRITE_METHODS and self._random.random() < self.conflict_rate:
            return self.latency, "conflict", 409
        return self.latency, None, None


class RequestLog:
    """Every client request, in completion order, with an index that never goes back."""

    def __init__(self, max_entries: int = 200000):
        self._entries: collections.deque = collections.deque(maxlen=max_entries)
        self._next_index = 1

    def record(self, verb, path, status, duration, user_agent, **extra) -> dict:
        entry = {"index": self._next_index, "time": time.time(), "verb": verb, "path": path, "status": status,
                 "duration": round(float(duration), 6), "user_agent": user_agent or ""}
        entry.update(extra)
        self._next_index += 1
        self._entries.append(entry)
        return entry

    def entries(self, since_index: int = 0) -> list[dict]:
        if not self._entries:
            return []
        # Indexes are consecutive, so the first wanted entry's position follows from the first index.
        skip = max(0, since_index - self._entries[0]["index"] + 1)
        return [dict(self._entries[i]) for i in range(skip, len(self._entries))]

    @property
    def last_index(self) -> int:
        return self._next_index - 1

    def clear(self):
        self._entries.clear()


async def injected_answer(faults, request, target):
    """Apply the configured fault to an aiohttp request: None to serve it, else the answer to send.

    A dropped request aborts the socket and ends the handler without an answer: the client sees
    its connection reset, as when a load balancer drops it.
    """
    delay, action, code = faults.decide(request.method, request.path)
    if delay:
        await asyncio.sleep(delay)
    if action == "drop":
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError()
    if action in ("error", "conflict"):
        body, headers = fault_status(action, code, target, faults.retry_after)
        return web.json_response(body, status=code, headers=headers)
    return None
