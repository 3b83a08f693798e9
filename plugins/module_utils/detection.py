# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a playbook needs to know before a release: the Canary, its status, and whether the
target runs a revision that still needs an analysis. Reads only."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.module_utils.canary_source import (
    load_yaml_documents,
    resolve_canary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import (
    CANARY_API_VERSION,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    get_object,
    get_resource,
    is_served,
)
from ansible_collections.progressive.delivery.plugins.module_utils.lease import (
    LEASE_API_VERSION,
    describe as describe_lease,
    lease_name_for,
)
from ansible_collections.progressive.delivery.plugins.module_utils.metric_templates import (
    parse_metric_template,
)
from ansible_collections.progressive.delivery.plugins.module_utils.release import (
    decide,
    release_decision,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.factory import (
    router_for,
)
from ansible_collections.progressive.delivery.plugins.module_utils.status import (
    read_canary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.factory import (
    target_for,
)


def cluster_reader(client):
    served = []

    def read(namespace, name):
        if not served:
            served.append(is_served(client, CANARY_API_VERSION, "Canary"))
        if not served[0]:
            return None
        return read_canary(client, namespace, name)

    return read


def _templates_from_files(paths):
    found = {}
    for path in paths or []:
        for doc in load_yaml_documents(path, what="metric_template_files entry"):
            if not isinstance(doc, dict) or doc.get("kind") != "MetricTemplate":
                continue
            template = parse_metric_template(doc, source=path)
            namespace = template.namespace or "default"
            found["{0}/{1}".format(namespace, template.name)] = doc
    return found


def resolve_metric_templates(client, canary, files=None):
    """The MetricTemplates the analysis references, keyed ``namespace/name``."""
    from_files = _templates_from_files(files)
    resolved = {}
    resource = None
    for index, metric in enumerate(canary["analysis"]["metrics"]):
        ref = metric.get("template_ref")
        if not ref:
            continue
        key = "{0}/{1}".format(ref["namespace"], ref["name"])
        if key in resolved:
            continue
        if key in from_files:
            resolved[key] = from_files[key]
            continue
        if resource is None:
            if not is_served(client, CANARY_API_VERSION, "MetricTemplate"):
                raise DeliveryError(
                    "spec.analysis.metrics[{0}].templateRef names MetricTemplate {1}, which is "
                    "in no metric_template_files entry, and the cluster does not serve "
                    "MetricTemplate".format(index, key))
            resource = get_resource(client, CANARY_API_VERSION, "MetricTemplate")
        obj = get_object(resource, ref["namespace"], ref["name"])
        if obj is None:
            raise DeliveryError("spec.analysis.metrics[{0}].templateRef: MetricTemplate {1} not "
                                "found in metric_template_files or the cluster".format(index, key))
        parse_metric_template(obj, source="MetricTemplate " + key)
        resolved[key] = obj
    return resolved


def describe_canary(client, params):
    canary, manifest, source, obj = resolve_canary(params, cluster_reader(client))
    namespace = canary["namespace"]
    workload = target_for(client, canary)
    target = workload.get(workload.name)
    revision = None
    tracked = {}
    if target is not None:
        revision, tracked = workload.revision(target)
    primary = workload.get(workload.primary)
    status = (obj or {}).get("status") or {}
    new, in_progress, failed = release_decision(revision, status)
    if primary is None:
        new = False
    lock = describe_lease(get_object(get_resource(client, LEASE_API_VERSION, "Lease"),
                                     namespace, lease_name_for(canary["name"])))
    return {
        "decision": decide(canary, status, revision, primary is not None,
                           lock_holder=(lock or {}).get("holder"),
                           on_interrupted=params.get("on_interrupted") or "resume"),
        "canary": canary,
        "manifest": manifest,
        "source": source,
        "status": status,
        "revision": revision,
        "tracked_configs": tracked,
        "new_revision": new,
        "in_progress": in_progress,
        "failed_revision": failed,
        "initialized": primary is not None,
        "target_exists": target is not None,
        "registered": obj is not None,
        # A requested group the cluster does not serve is refused here, before anything is
        # written; a cluster that serves none gives None.
        "traefik_api_version": router_for(
            client, canary, api_version=params.get("traefik_api_version")).api_version(required=False),
        "metric_templates": resolve_metric_templates(client, canary,
                                                     params.get("metric_template_files")),
        "warnings_fields": list(canary.get("warnings") or []),
        # A run killed while holding the release lock leaves its Lease behind; the next run takes
        # it over once it expires, so such a Lease is work even when nothing else is.
        "lock": lock,
    }
