"""Objects a freshly installed cluster with Traefik (Helm) already holds."""
from pathlib import Path

import yaml

HERE = Path(__file__).parent
# kubesandbox/manifests -> the checkout is four levels up.
REPO_RBAC = HERE.parents[3] / "rbac"

# Both API groups exist in the wild: traefik.io (Traefik v3) and traefik.containo.us (v2, the seed's).
TRAEFIK_GROUPS = ("traefik.io", "traefik.containo.us")
TRAEFIK_KINDS = (
    "IngressRoute", "IngressRouteTCP", "IngressRouteUDP", "Middleware", "MiddlewareTCP",
    "ServersTransport", "ServersTransportTCP", "TLSOption", "TLSStore", "TraefikService",
)


def traefik_crd(group, kind):
    plural = kind.lower() + "s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}", "labels": {"app.kubernetes.io/name": "traefik"}},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
            "versions": [{
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                # The sandbox validates nothing inside spec; Traefik itself reports bad routes.
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    },
                    "required": ["metadata", "spec"],
                }},
            }],
        },
    }


def traefik_crds():
    return [traefik_crd(group, kind) for group in TRAEFIK_GROUPS for kind in TRAEFIK_KINDS]


def _documents(name):
    with open(HERE / name) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def bootstrap_objects():
    """Namespaces, the node, and Traefik's Service and dashboard route, in creation order."""
    return _documents("bootstrap.yaml")


def collection_rbac():
    """The RBAC the collection ships for its users (rbac/), in the files' order."""
    return [yaml.safe_load(path.read_text()) for path in sorted(REPO_RBAC.glob("*.yaml"))]


def traefik_rbac():
    """Traefik's ServiceAccount, ClusterRole and binding (only an API server with RBAC needs them)."""
    return _documents("traefik-rbac.yaml")
