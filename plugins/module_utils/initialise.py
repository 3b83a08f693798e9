# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Initialisation of a Canary: the objects Flagger creates once per app.

From the target ``X`` (a Deployment; see targets/): the primary ``X-primary`` (its pod template
made by targets.base.primary_pod_template, the same function promotion uses), ``-primary`` copies
of the ConfigMaps/Secrets it uses (targets.config_tracking), the ClusterIP Services
apex/primary/canary, the weighted TraefikService (all traffic to the primary), and a clone of
the HPA for the primary. Once the primary is ready the target is scaled to zero and the first
revision counts as promoted.

Every object is only created when missing (Services and the primary HPA are also corrected
when they drifted), so a second run changes nothing. Every refusal happens before the first
write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import time

from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import (
    CANARY_API_VERSION,
    manifest_of,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    DynamicApiError,
    ResourceNotFoundError,
    api_error_message,
    create_object,
    get_object,
    get_resource,
    object_metadata,
    replace_spec,
    replace_with_retry,
    without_flux_keys,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.base import (
    with_flux_reconcile_disabled,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.factory import (
    router_for,
)
from ansible_collections.progressive.delivery.plugins.module_utils.announce import (
    announce,
)
from ansible_collections.progressive.delivery.plugins.module_utils.events import (
    event_message,
    primary_not_ready_detail,
)
from ansible_collections.progressive.delivery.plugins.module_utils.webhooks import (
    WebhookSender,
)
from ansible_collections.progressive.delivery.plugins.module_utils.status import (
    owner_reference,
    write_status,
)
from ansible_collections.progressive.delivery.plugins.module_utils.names import (
    primary_name,
    service_names,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.factory import (
    target_for,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.base import (
    SELECTOR_LABELS,
    selector_label,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.config_tracking import (
    tracked_pairs,
)

POLL_SECONDS = 0.5
INITIALISED_PHASES = ("Initialized", "Waiting", "Progressing", "WaitingPromotion", "Promoting",
                      "Finalising", "Succeeded", "Failed")
HPA_API_VERSIONS = ("autoscaling/v2", "autoscaling/v2beta2", "autoscaling/v1")


# Containers of service-mesh proxies, whose ports spec.service.portDiscovery leaves out (Flagger's list).
SIDECAR_CONTAINERS = ("istio-proxy", "envoy")


def discovered_ports(service, target):
    """spec.service.portDiscovery, as Flagger's getPorts does it: every container port of the
    target's pod template but the Service's own (``targetPort``: by number, or by name when it is
    a name) and those of mesh proxies, named by the port's name or ``tcp-<container>-<index>``,
    each on the same port number; ordered by port, as the Service's ports are compared."""
    target_port = service["target_port"]
    found = {}
    containers = (((target.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")
    for container in containers or []:
        if container.get("name") in SIDECAR_CONTAINERS:
            continue
        for index, port in enumerate(container.get("ports") or []):
            number = port.get("containerPort")
            if number == target_port or (port.get("name") and port.get("name") == target_port):
                continue
            name = port.get("name") or "tcp-{0}-{1}".format(container.get("name"), index)
            found[name] = number
    return [{"name": name, "port": number, "targetPort": number, "protocol": "TCP"}
            for name, number in sorted(found.items(), key=lambda item: (item[1], item[0]))]


def build_services(canary, target, owner=None, selector_labels=SELECTOR_LABELS):
    """Apex ``X`` and ``X-primary`` select the primary's pods, ``X-canary`` the target's."""
    key, value = selector_label(target, selector_labels)
    service = canary["service"]
    port = {"name": service["port_name"], "port": service["port"],
            "targetPort": service["target_port"], "protocol": "TCP"}
    if service.get("app_protocol"):
        port["appProtocol"] = service["app_protocol"]
    ports = [port] + (discovered_ports(service, target) if service.get("port_discovery") else [])
    # As in Flagger, a headless Service and its traffic distribution are set when it is created.
    extra_spec = {}
    if service.get("headless"):
        extra_spec["clusterIP"] = "None"
    if service.get("traffic_distribution"):
        extra_spec["trafficDistribution"] = service["traffic_distribution"]
    namespace = canary["namespace"]
    names = service_names(service["name"])
    plan = (
        ("apex", names["apex"], primary_name(value)),
        ("primary", names["primary"], primary_name(value)),
        ("canary", names["canary"], value),
    )
    services = []
    for role, name, selected in plan:
        extra = service["metadata"][role]
        # As in Flagger, the selector label names the Service whatever spec.service.<role> says.
        labels = dict(extra["labels"])
        labels[key] = name
        services.append({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": object_metadata(
                name, namespace, labels,
                with_flux_reconcile_disabled(without_flux_keys(extra["annotations"])), owner),
            "spec": dict({"type": "ClusterIP", "selector": {key: selected},
                          "ports": [dict(p) for p in ports]}, **extra_spec),
        })
    return services


def owned_by(obj, canary_name):
    """Whether ``obj`` has an ownerReference to the Canary ``canary_name`` (Flagger's
    isOwnedByCanary): only then are its labels and annotations ours to set."""
    return any(ref.get("kind") == "Canary" and ref.get("name") == canary_name
               for ref in (obj.get("metadata") or {}).get("ownerReferences") or [])


def service_metadata(current, desired, unmanaged):
    """The labels and annotations an owned Service should carry: the Canary's, plus the keys
    spec.service.unmanagedMetadata leaves to others, at their current values, plus Flux's
    reconcile keys, which always win (as Flagger sets them last)."""
    meta = current.get("metadata") or {}
    wanted = {}
    for kind in ("labels", "annotations"):
        values = dict(desired["metadata"].get(kind) or {})
        have = meta.get(kind) or {}
        values.update((k, have[k]) for k in unmanaged.get(kind) or () if k in have)
        wanted[kind] = (with_flux_reconcile_disabled(without_flux_keys(values))
                        if kind == "annotations" else values)
    return wanted


def build_primary_hpa(hpa, primary_deployment_name, overrides=None, owner=None):
    """A copy of the target's HPA that scales the primary instead."""
    meta = hpa.get("metadata") or {}
    spec = copy.deepcopy(hpa.get("spec") or {})
    ref = spec.setdefault("scaleTargetRef", {})
    ref["name"] = primary_deployment_name
    ref.setdefault("kind", "Deployment")
    ref.setdefault("apiVersion", "apps/v1")
    for key, value in (overrides or {}).items():
        spec[key] = value
    return {
        "apiVersion": hpa.get("apiVersion"),
        "kind": "HorizontalPodAutoscaler",
        "metadata": object_metadata(primary_name(meta["name"]), meta.get("namespace"),
                                    meta.get("labels"), owner=owner),
        "spec": spec,
    }


def _service_drifted(current, desired):
    spec = current.get("spec") or {}
    if spec.get("selector") != desired["spec"]["selector"]:
        return True
    # In any order, as Flagger compares them.
    ports = sorted((p.get("port"), p.get("name"), str(p.get("targetPort")))
                   for p in spec.get("ports") or [])
    want = sorted((p.get("port"), p.get("name"), str(p.get("targetPort")))
                  for p in desired["spec"]["ports"])
    return ports != want


def _service_view(service):
    """What a diff shows of a Service: the parts a run may change."""
    meta = service.get("metadata") or {}
    return {"metadata": {"labels": meta.get("labels") or {},
                         "annotations": meta.get("annotations") or {}},
            "spec": service.get("spec")}


class Initialiser(object):
    """Works out and performs the initialisation of one Canary."""

    def __init__(self, client, canary, manifest=None, traefik_api_version=None,
                 check_mode=False, timeout=None, clock=time.monotonic, sleep=time.sleep,
                 target_labels=None, signals=None):
        self.client = client
        # Where the "Initialization done!" Event and alert also go (announce.Signals).
        self.signals = signals
        self.canary = canary
        # selector_labels and include_label_prefix (Flagger's controller flags), for target_for.
        self.target_labels = target_labels or {}
        self.manifest = manifest
        self.traefik_api_version = traefik_api_version
        self.check_mode = check_mode
        self.timeout = timeout if timeout is not None else canary["progress_deadline_seconds"]
        self.clock = clock
        self.sleep = sleep
        self.namespace = canary["namespace"]
        self.changes = []
        self.diff_before = {}
        self.diff_after = {}

    # -- helpers --------------------------------------------------------------------------
    def _resource(self, api_version, kind):
        return get_resource(self.client, api_version, kind)

    def _record(self, kind, name, action, before=None, after=None):
        self.changes.append({"kind": kind, "name": name, "action": action})
        key = "{0}/{1}".format(kind, name)
        if action == "status":
            key += " status"
        self.diff_before[key] = before
        self.diff_after[key] = after

    def _create(self, resource, body):
        self._record(body["kind"], body["metadata"]["name"], "created", None, body)
        if self.check_mode:
            return body
        return create_object(resource, self.namespace, body)

    # -- steps, in the order they run -----------------------------------------------------
    def read_inputs(self):
        """Everything we need, read and checked before any write."""
        canary = self.canary
        self.workload = target_for(self.client, canary, **self.target_labels)
        self.target = self.workload.require(self.workload.name, "spec.targetRef")
        self.workload.selector_label(self.target)
        self.configs = self.workload.configs.read(self.workload.pod_template(self.target))
        self.revision, self.tracked = self.workload.revision(self.target, self.configs)
        try:
            self.canaries = self._resource(CANARY_API_VERSION, "Canary")
        except DeliveryError:
            raise DeliveryError(
                "The API server does not serve Canary ({0}); install the CRDs first with "
                "ansible-playbook progressive.delivery.install_crds (playbooks/install_crds.yml)"
                .format(CANARY_API_VERSION))
        self.canary_obj = get_object(self.canaries, self.namespace, canary["name"])
        if self.canary_obj is None and self.manifest is None:
            raise DeliveryError("Canary {0}/{1} not found in the cluster; pass its manifest to "
                                "register it".format(self.namespace, canary["name"]))
        self.hpa = None
        if canary["autoscaler"]:
            self.hpa, self.hpa_resource = self._read_hpa(canary["autoscaler"]["name"])
        self.router = router_for(self.client, canary, api_version=self.traefik_api_version)
        self.route_plan = self.router.plan_reconcile()

    def _read_hpa(self, name):
        """The target's HPA, read in the newest autoscaling version the server serves.

        Manifests written for older clusters say autoscaling/v2beta2, which current API
        servers no longer serve; the object is the same.
        """
        versions = list(HPA_API_VERSIONS)
        for api_version in versions:
            try:
                resource = self.client.resources.get(api_version=api_version,
                                                     kind="HorizontalPodAutoscaler")
            except ResourceNotFoundError:
                continue
            except DynamicApiError as exc:
                raise DeliveryError(api_error_message(exc, "discover HorizontalPodAutoscaler"))
            hpa = get_object(resource, self.namespace, name)
            if hpa is None:
                raise DeliveryError("HorizontalPodAutoscaler {0}/{1} (spec.autoscalerRef) not "
                                    "found".format(self.namespace, name))
            return hpa, resource
        raise DeliveryError("The API server serves HorizontalPodAutoscaler in none of {0}".format(
            ", ".join(versions)))

    def register_canary(self):
        """A Canary given as a file or dict becomes an object, so status and events live where
        ``kubectl get canaries`` and ``kubectl describe canary`` look."""
        if self.manifest is None:
            return
        desired = manifest_of(self.manifest)
        desired.setdefault("metadata", {})["namespace"] = self.namespace
        if self.canary_obj is None:
            created = self._create(self.canaries, desired)
            self.canary_obj = created if not self.check_mode else None
            return
        if self.canary_obj.get("spec") == desired.get("spec"):
            return

        def mutate(obj):
            if obj.get("spec") == desired.get("spec"):
                return None
            obj["spec"] = copy.deepcopy(desired["spec"])
            return obj

        self._record("Canary", self.canary["name"], "updated",
                     {"spec": self.canary_obj.get("spec")}, {"spec": desired.get("spec")})
        if not self.check_mode:
            _before, self.canary_obj = replace_with_retry(self.canaries, self.namespace,
                                                          self.canary["name"], mutate)

    def mark_initializing(self):
        status = (self.canary_obj or {}).get("status") or {}
        if self.canary_obj is None or status.get("phase"):
            return
        self._write_status({"phase": "Initializing", "canaryWeight": 0, "failedChecks": 0,
                            "iterations": 0})

    def ensure_config_copies(self):
        tracker = self.workload.configs
        for kind, desired, current in tracker.copies(self.configs, owner_reference(self.canary_obj)):
            # An existing copy is left as it is: the primary runs the configuration it was
            # promoted with, and promotion refreshes the copies.
            if current is None:
                self._create(tracker.resource(kind), desired)

    def ensure_primary(self):
        self.primary = self.workload.get(self.workload.primary)
        if self.primary is not None:
            return False
        overrides = (self.canary["autoscaler"] or {}).get("primary_scaler_replicas") or {}
        min_replicas = overrides.get("minReplicas") or (
            (self.hpa or {}).get("spec") or {}).get("minReplicas")
        body = self.workload.build_primary(self.target, tracked_pairs(self.tracked),
                                           owner_reference(self.canary_obj), min_replicas)
        self.primary = self._create(self.workload.resource, body)
        return True

    def ensure_services(self):
        """Create the Services, or bring them back to the Canary's spec on every run: selector
        and ports always, labels and annotations where the Service is the Canary's own (as
        Flagger's router reconciles them each time). A Service that is written also gets Flux's
        reconcile keys, the Canary's own or not, as Flagger writes them."""
        resource = self._resource("v1", "Service")
        unmanaged = self.canary["service"].get("unmanaged_metadata") or {}

        def update(obj, desired):
            """``obj`` changed to the desired state, or None when it is there already."""
            wanted = copy.deepcopy(obj)
            if _service_drifted(obj, desired):
                wanted["spec"]["selector"] = desired["spec"]["selector"]
                wanted["spec"]["ports"] = desired["spec"]["ports"]
                wanted["metadata"]["annotations"] = with_flux_reconcile_disabled(
                    wanted["metadata"].get("annotations"))
            if owned_by(obj, self.canary["name"]):
                for kind, values in service_metadata(obj, desired, unmanaged).items():
                    if values:
                        wanted["metadata"][kind] = values
                    else:
                        wanted["metadata"].pop(kind, None)
            return None if wanted == obj else wanted

        for desired in build_services(self.canary, self.target, owner_reference(self.canary_obj),
                                      self.workload.selector_labels):
            name = desired["metadata"]["name"]
            current = get_object(resource, self.namespace, name)
            if current is None:
                self._create(resource, desired)
                continue
            wanted = update(current, desired)
            if wanted is None:
                continue
            self._record("Service", name, "updated", _service_view(current),
                         _service_view(wanted))
            if self.check_mode:
                continue
            replace_with_retry(resource, self.namespace, name,
                               lambda obj, desired=desired: update(obj, desired))

    def ensure_traefik_service(self):
        for change in self.router.reconcile(self.route_plan, check_mode=self.check_mode,
                                            owner=owner_reference(self.canary_obj)):
            self._record(change["kind"], change["name"], change["action"], change["before"],
                         change["after"])

    def ensure_primary_hpa(self):
        if self.hpa is None:
            return
        desired = build_primary_hpa(self.hpa, primary_name(self.canary["target"]["name"]),
                                    self.canary["autoscaler"]["primary_scaler_replicas"],
                                    owner_reference(self.canary_obj))
        name = desired["metadata"]["name"]
        current = get_object(self.hpa_resource, self.namespace, name)
        if current is None:
            self._create(self.hpa_resource, desired)
            return
        if (current.get("spec") or {}) == desired["spec"]:
            return
        self._record("HorizontalPodAutoscaler", name, "updated", {"spec": current.get("spec")},
                     {"spec": desired["spec"]})
        if self.check_mode:
            return

        replace_spec(self.hpa_resource, self.namespace, name, desired["spec"])

    def wait_for_primary(self):
        ready, message = self.workload.is_primary_ready()
        if not ready:
            # Flagger records why on each tick while it waits; one Event says it here.
            self._announce("initialising_primary_not_ready",
                           detail=primary_not_ready_detail(message, self.workload.primary))
            self.workload.wait_for_primary_or_raise(
                self.timeout, self.clock, self.sleep, POLL_SECONDS,
                lambda primary, why: DeliveryError(
                    "Primary {0} was not ready within {1}s (progressDeadlineSeconds): {2}; the target "
                    "was left running".format(primary, self.timeout, why)))

    def scale_target_to_zero(self):
        if self.workload.is_scaled_to_zero(self.target):
            return
        self._record(self.workload.kind, self.workload.name, "scaled to 0",
                     {"replicas": self.workload.replicas(self.target)}, {"replicas": 0})
        if self.check_mode:
            return
        self.workload.scale_to_zero()

    def _write_status(self, changes):
        if self.canary_obj is None:
            if self.check_mode:
                self._record("Canary", self.canary["name"], "status", None, changes)
            return
        changed, before, after = write_status(
            self.client, self.namespace, self.canary["name"], changes,
            target_kind=self.canary["target"]["kind"], check_mode=self.check_mode)
        if changed:
            self._record("Canary", self.canary["name"], "status", before, after)
            if not self.check_mode:
                self.canary_obj["status"] = after

    def finish(self):
        status = (self.canary_obj or {}).get("status") or {}
        if status.get("phase") in INITIALISED_PHASES and status.get("lastPromotedSpec"):
            return False
        if not self.check_mode:
            self.wait_for_primary()
        self.scale_target_to_zero()
        self._write_status({
            "phase": "Initialized", "canaryWeight": 0, "failedChecks": 0, "iterations": 0,
            "lastAppliedSpec": self.revision, "lastPromotedSpec": self.revision,
            "trackedConfigs": self.tracked,
        })
        self._announce("initialized")
        return True

    def _announce(self, template, **values):
        """Record the Event ``template`` about the Canary and send it where Events go."""
        if self.canary_obj is None or self.check_mode:
            return
        event_type, message = event_message(template, self.canary, **values)
        announce(self.client, self.canary, self.canary_obj, event_type, message,
                 WebhookSender(api_client=lambda: self.client.client), self.signals)

    def run(self):
        self.read_inputs()
        self.register_canary()
        self.mark_initializing()
        self.ensure_config_copies()
        self.ensure_primary()
        self.ensure_services()
        self.ensure_traefik_service()
        self.ensure_primary_hpa()
        initialized_now = self.finish()
        primary = self.primary or {}
        return {
            "changed": bool(self.changes),
            "initialized_now": initialized_now,
            "revision": self.revision,
            "tracked_configs": self.tracked,
            "traefik_api_version": self.route_plan.api_version,
            "primary_replicas": (primary.get("spec") or {}).get("replicas"),
            "objects": self.changes,
            "diff": {"before": self.diff_before, "after": self.diff_after},
        }


def initialise(client, canary, manifest=None, traefik_api_version=None, check_mode=False,
               timeout=None, target_labels=None, signals=None):
    """Create what a Canary needs; see the module docs of canary_init for the result."""
    return Initialiser(client, canary, manifest=manifest,
                       traefik_api_version=traefik_api_version, check_mode=check_mode,
                       timeout=timeout, target_labels=target_labels, signals=signals).run()
