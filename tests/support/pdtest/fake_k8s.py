"""In-memory stand-ins for the kubernetes dynamic client, for unit tests.

``Obj`` is what a resource call returns (a dict with ``to_dict``); ``http_error`` is the exception
the dynamic client raises for an HTTP status; ``DiscoveryClient`` serves a chosen set of kinds.
"""
import copy
import json

from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError, api_exception


class Obj(dict):
    def to_dict(self):
        return copy.deepcopy(dict(self))


def http_error(status, reason, message=None):
    """The dynamic client's exception for an answer ``status``, with a Status ``message``."""
    exc = ApiException(status=status, reason=reason)
    if message:
        exc.body = json.dumps({"kind": "Status", "message": message})
    return api_exception(exc)


class Discovery(object):
    """``client.resources``: ``served`` holds the (apiVersion, kind) pairs the server knows, or maps
    each to the resource that answers for it."""

    def __init__(self, served):
        self.served = served

    def get(self, api_version, kind):
        if (api_version, kind) not in self.served:
            raise ResourceNotFoundError("No matches found")
        return self.served[(api_version, kind)] if isinstance(self.served, dict) else object()


class DiscoveryClient(object):
    def __init__(self, served):
        self.resources = Discovery(served)


class MemoryResource(object):
    """One kind's objects in memory, read and replaced as the dynamic client does; ``writes``
    counts the replaces."""

    def __init__(self, objects=(), kind="Deployment"):
        self.kind = kind
        self.objects = {}
        for obj in objects:
            stored = copy.deepcopy(obj)
            stored["metadata"].setdefault("resourceVersion", "1")
            self.objects[(stored["metadata"].get("namespace"), stored["metadata"]["name"])] = stored
        self.writes = 0

    def get(self, name, namespace):
        if (namespace, name) not in self.objects:
            raise http_error(404, "Not Found")
        return Obj(copy.deepcopy(self.objects[(namespace, name)]))

    def replace(self, body, namespace, name):
        self.writes += 1
        stored = copy.deepcopy(body)
        stored["metadata"]["resourceVersion"] = str(int(body["metadata"]["resourceVersion"]) + 1)
        self.objects[(namespace, name)] = stored
        return Obj(copy.deepcopy(stored))
