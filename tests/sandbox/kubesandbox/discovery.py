"""Resource catalogue of the emulated API server and the discovery documents built from it.

Built-in resources are declared here; custom resources join the catalogue when their
CustomResourceDefinition is stored (see ``ResourceInfo.from_crd``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

SERVER_VERSION = {
    "major": "1",
    "minor": "36",
    "gitVersion": "v1.36.0-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25",
    "compiler": "gc",
    "platform": "linux/amd64",
}

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass
class ResourceInfo:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    singular: str = ""
    short_names: tuple = ()
    categories: tuple = ()
    subresources: frozenset = frozenset()
    printer_columns: list = field(default_factory=list)
    custom: bool = False
    served: bool = True
    storage_version: str = ""
    list_kind: str = ""
    # For custom resources with a scale subresource: where replicas live in the object.
    scale_paths: dict = field(default_factory=dict)

    def __post_init__(self):
        self.singular = self.singular or self.kind.lower()
        self.storage_version = self.storage_version or self.version
        self.list_kind = self.list_kind or self.kind + "List"

    @property
    def gvr(self):
        return (self.group, self.version, self.plural)

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @classmethod
    def from_crd(cls, crd: dict) -> list["ResourceInfo"]:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        versions = spec.get("versions") or []
        storage = next((v["name"] for v in versions if v.get("storage")), versions[0]["name"] if versions else "v1")
        infos = []
        for ver in versions:
            if not ver.get("served", True):
                continue
            subs = ver.get("subresources") or {}
            infos.append(cls(
                group=spec.get("group", ""),
                version=ver["name"],
                plural=names.get("plural", ""),
                kind=names.get("kind", ""),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular", ""),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=frozenset(k for k in ("status", "scale") if k in subs),
                printer_columns=list(ver.get("additionalPrinterColumns") or []),
                custom=True,
                storage_version=storage,
                list_kind=names.get("listKind", ""),
                scale_paths=dict(subs.get("scale") or {}),
            ))
        return infos


def _r(group, version, plural, kind, namespaced=True, short=(), cats=(), subs=()):
    return ResourceInfo(group, version, plural, kind, namespaced, short_names=tuple(short),
                        categories=tuple(cats), subresources=frozenset(subs))


BUILTIN_RESOURCES = [
    _r("", "v1", "namespaces", "Namespace", False, ["ns"], subs=["status"]),
    _r("", "v1", "nodes", "Node", False, ["no"], subs=["status"]),
    _r("", "v1", "services", "Service", True, ["svc"], ["all"], ["status"]),
    _r("", "v1", "endpoints", "Endpoints", True, ["ep"]),
    _r("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
    _r("", "v1", "secrets", "Secret", True),
    _r("", "v1", "pods", "Pod", True, ["po"], ["all"], ["status"]),
    _r("", "v1", "events", "Event", True, ["ev"]),
    _r("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
    _r("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"], subs=["status"]),
    _r("apps", "v1", "deployments", "Deployment", True, ["deploy"], ["all"], ["status", "scale"]),
    _r("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"], ["all"], ["status", "scale"]),
    _r("apps", "v1", "statefulsets", "StatefulSet", True, ["sts"], ["all"], ["status", "scale"]),
    _r("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"], ["all"], ["status"]),
    _r("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ["hpa"], ["all"],
       ["status"]),
    _r("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    _r("coordination.k8s.io", "v1", "leases", "Lease", True),
    _r("events.k8s.io", "v1", "events", "Event", True, ["ev"]),
    _r("networking.k8s.io", "v1", "ingresses", "Ingress", True, ["ing"], subs=["status"]),
    _r("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    _r("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"], subs=["status"]),
    # Stored only (nothing runs them), so manifests that ship RBAC or jobs next to an app apply cleanly.
    _r("batch", "v1", "jobs", "Job", True, cats=["all"], subs=["status"]),
    _r("batch", "v1", "cronjobs", "CronJob", True, ["cj"], ["all"], ["status"]),
    _r("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    _r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    _r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _r("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
       ["crd", "crds"], subs=["status"]),
]


def _resource_entries(info: ResourceInfo) -> list[dict]:
    entry = {
        "name": info.plural,
        "singularName": info.singular,
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": list(ALL_VERBS),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    entries = [entry]
    if "status" in info.subresources:
        entries.append({"name": info.plural + "/status", "singularName": "", "namespaced": info.namespaced,
                        "kind": info.kind, "verbs": ["get", "patch", "update"]})
    if "scale" in info.subresources:
        entries.append({"name": info.plural + "/scale", "singularName": "", "namespaced": info.namespaced,
                        "group": "autoscaling", "version": "v1", "kind": "Scale",
                        "verbs": ["get", "patch", "update"]})
    if info.group == "" and info.plural == "services":
        entries.append({"name": "services/proxy", "singularName": "", "namespaced": True, "kind": "ServiceProxyOptions",
                        "verbs": ["create", "delete", "get", "patch", "update"]})
    return entries


def resource_list(group: str, version: str, infos: list[ResourceInfo]) -> dict:
    resources = []
    for info in sorted(infos, key=lambda i: i.plural):
        resources.extend(_resource_entries(info))
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def core_versions() -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}


def _version_order(v: str):
    # Kubernetes version priority: GA > beta > alpha, higher numbers first.
    import re
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
    if not m:
        return (3, 0, 0, v)
    stage = {"alpha": 2, "beta": 1, None: 0}[m.group(2)]
    return (stage, -int(m.group(1)), -int(m.group(3) or 0), v)


def api_group(group: str, versions: list[str]) -> dict:
    ordered = sorted(set(versions), key=_version_order)
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in ordered]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list(groups: dict[str, list[str]]) -> dict:
    docs = [api_group(g, vs) for g, vs in groups.items() if g]
    for doc in docs:
        doc.pop("kind")
        doc.pop("apiVersion")
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": docs}


def openapi_v3_root(group_versions: list[tuple[str, str]]) -> dict:
    paths = {}
    for group, version in group_versions:
        key = f"apis/{group}/{version}" if group else f"api/{version}"
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}"}
    return {"paths": paths}


_FIELD_VALIDATION = {
    "name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True},
    "description": "How the server treats unknown or duplicate fields.",
}


def openapi_v3_group_version(group: str, version: str, infos: list[ResourceInfo]) -> dict:
    """A stub schema document: kubectl only reads it to learn that PATCH accepts fieldValidation.

    Declaring it per kind makes kubectl leave validation to the server instead of falling back to
    the (absent) /openapi/v2 document.
    """
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    paths = {}
    for info in infos:
        base = f"{prefix}/namespaces/{{namespace}}/{info.plural}/{{name}}" if info.namespaced \
            else f"{prefix}/{info.plural}/{{name}}"
        gvk = {"group": group, "version": version, "kind": info.kind}
        op = {
            "operationId": f"patch{info.kind}",
            "parameters": [dict(_FIELD_VALIDATION), {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                           {"name": "fieldManager", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
        }
        put = dict(op, operationId=f"replace{info.kind}", **{"x-kubernetes-action": "put"})
        paths[base] = {"patch": op, "put": put}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
            "paths": paths, "components": {"schemas": {}}}
