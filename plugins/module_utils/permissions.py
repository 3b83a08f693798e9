# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a release of a Canary needs to be allowed to do, asked of the API server before the first
write (private to this collection).

A release that finds out half-way that it may not update the TraefikService has already copied
the canary to the primary; asking first (one SelfSubjectAccessReview per permission, which every
authenticated identity may create) lets a run stop with nothing changed and name every missing
verb and resource at once. The files in rbac/ grant exactly these.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import dataclasses
import typing

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    DynamicApiError,
    api_error_message,
    get_resource,
)

ACCESS_REVIEW_API = "authorization.k8s.io/v1"
IDENTITY_REVIEW_API = "authentication.k8s.io/v1"
CANARY_GROUP = "flagger.app"


@dataclasses.dataclass(eq=False)
class Need:
    """One permission: a verb on a (group, resource, subresource) in a namespace."""

    verb: str
    group: str
    resource: str
    subresource: typing.Optional[str] = None
    why: str = ""

    def key(self):
        return (self.verb, self.group, self.resource, self.subresource or "")

    def describe(self):
        name = self.resource if not self.group else "{0}.{1}".format(self.resource, self.group)
        if self.subresource:
            name = "{0}/{1}".format(name, self.subresource)
        return "{0} {1}".format(self.verb, name)


# The API resource of each target kind.
WORKLOAD_RESOURCES = {"Deployment": "deployments", "DaemonSet": "daemonsets"}


def release_needs(canary, traefik_group, initialized=True, tracked_kinds=(), register_canary=False,
                  metric_templates=False):
    """Every permission a release of ``canary`` uses, as the role and its modules run it.

    ``tracked_kinds`` are the kinds (ConfigMap, Secret) of the configuration the target reads,
    which promotion copies; ``register_canary`` when the Canary comes from a file and is created.
    """
    workloads = WORKLOAD_RESOURCES[(canary.get("target") or {}).get("kind") or "Deployment"]
    needs = [
        Need("get", CANARY_GROUP, "canaries", why="read the Canary"),
        Need("update", CANARY_GROUP, "canaries", "status", why="record the release's status"),
        Need("create", "", "events", why="record Flagger's events"),
        Need("update", "", "events", why="count repeated events"),
        Need("get", "apps", workloads, why="read the target and the primary"),
        Need("update", "apps", workloads, why="promote the canary and scale it up and down"),
        Need("get", traefik_group, "traefikservices", why="read the weights"),
        Need("update", traefik_group, "traefikservices", why="shift the weights"),
        Need("get", "coordination.k8s.io", "leases", why="read the release lock"),
        Need("create", "coordination.k8s.io", "leases", why="take the release lock"),
        Need("update", "coordination.k8s.io", "leases", why="renew the release lock"),
        Need("delete", "coordination.k8s.io", "leases", why="release the lock"),
    ]
    if (canary.get("analysis") or {}).get("match"):
        needs.extend([
            Need("list", traefik_group, "ingressroutes", why="read the rule of the user's route"),
            Need("get", traefik_group, "ingressroutes", why="read the canary's route"),
            Need("create", traefik_group, "ingressroutes", why="route matching requests to the canary"),
            Need("update", traefik_group, "ingressroutes", why="update the canary's route"),
            Need("delete", traefik_group, "ingressroutes", why="remove the canary's route"),
            Need("create", traefik_group, "traefikservices", why="route to the canary Service"),
            Need("delete", traefik_group, "traefikservices", why="remove the route to the canary"),
        ])
    if register_canary:
        needs.append(Need("create", CANARY_GROUP, "canaries", why="register the Canary"))
    if metric_templates:
        needs.append(Need("get", CANARY_GROUP, "metrictemplates", why="read the MetricTemplates"))
    if any(h.get("url") for h in (canary.get("analysis") or {}).get("webhooks") or []):
        needs.append(Need("create", "", "services", "proxy", why="call in-cluster webhooks"))
    for kind in tracked_kinds:
        resource = {"ConfigMap": "configmaps", "Secret": "secrets"}[kind]
        needs.append(Need("get", "", resource, why="read the tracked configuration"))
        needs.append(Need("create", "", resource, why="copy the configuration to the primary"))
        needs.append(Need("update", "", resource, why="refresh the primary's configuration copies"))
    if not initialized:
        needs.extend([
            Need("create", "apps", workloads, why="create the primary"),
            Need("get", "", "services", why="read the Services"),
            Need("create", "", "services", why="create the apex, primary and canary Services"),
            Need("create", traefik_group, "traefikservices", why="create the TraefikService"),
        ])
        if canary.get("autoscaler"):
            needs.append(Need("get", "autoscaling", "horizontalpodautoscalers", why="read the HPA"))
            needs.append(Need("create", "autoscaling", "horizontalpodautoscalers",
                              why="clone the HPA for the primary"))
    unique = {}
    for need in needs:
        unique.setdefault(need.key(), need)
    return list(unique.values())


def _review(need, namespace):
    attributes = {"namespace": namespace, "verb": need.verb, "group": need.group,
                  "resource": need.resource}
    if need.subresource:
        attributes["subresource"] = need.subresource
    return {"apiVersion": ACCESS_REVIEW_API, "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes}}


def identity(client):
    """Who the API server takes us for, or None when it cannot say (SelfSubjectReview)."""
    try:
        reviews = get_resource(client, IDENTITY_REVIEW_API, "SelfSubjectReview")
        answer = reviews.create(body={"apiVersion": IDENTITY_REVIEW_API, "kind": "SelfSubjectReview"})
        return answer.to_dict()["status"]["userInfo"]["username"]
    except (DeliveryError, DynamicApiError, KeyError, TypeError):
        return None


def missing(client, namespace, needs):
    """The needs the API server does not allow, in the order given; None when it serves no
    SelfSubjectAccessReview (no conformant API server lacks it) and so cannot be asked."""
    try:
        reviews = get_resource(client, ACCESS_REVIEW_API, "SelfSubjectAccessReview")
    except DeliveryError:
        return None
    denied = []
    for need in needs:
        try:
            answer = reviews.create(body=_review(need, namespace)).to_dict()
        except DynamicApiError as exc:
            raise DeliveryError(api_error_message(
                exc, "ask the API server whether we may {0}".format(need.describe())))
        if not (answer.get("status") or {}).get("allowed"):
            denied.append(need)
    return denied


def require(client, namespace, needs):
    """Raise DeliveryError naming every missing permission; returns how many were checked (0 when
    the API server cannot be asked)."""
    denied = missing(client, namespace, needs)
    if denied is None:
        return 0
    if denied:
        who = identity(client)
        raise DeliveryError(
            "{0} may not {1} in namespace {2}; nothing was changed. Grant the missing permissions "
            "(the files in rbac/ list everything a release needs).".format(
                who or "The Kubernetes identity in use",
                "; ".join("{0} (to {1})".format(n.describe(), n.why) for n in denied), namespace),
            missing=[n.describe() for n in denied])
    return len(needs)
