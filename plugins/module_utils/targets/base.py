# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every kind of canary target offers (Flagger's canary.Controller).

A target ``X`` is the workload the user changes; ``X-primary`` is the copy that serves
production. A kind (Deployment, later DaemonSet) says how its primary is built, when it counts as
ready, and how it is scaled to zero; promotion, revision checksums and config tracking work on
the pod template and are the same for every kind.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import abc
import copy
import uuid

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    get_object,
    get_resource,
    keys_with_prefix,
    replace_with_retry,
    without_flux_keys,
)
from ansible_collections.progressive.delivery.plugins.module_utils.names import (
    primary_name,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.config_tracking import (
    CONFIG_CHECKSUM_ANNOTATION,
    ConfigTracker,
    revision_checksum,
    rewrite_config_references,
)

# Flagger's default for primaryReadyThreshold and canaryReadyThreshold: every replica available.
FULLY_READY = 100
# Flagger's default -selector-labels: the pod labels a selector may key the primary on, in order.
SELECTOR_LABELS = ("app", "name", "app.kubernetes.io/name")
# Fields of the target's spec the primary takes over at creation and at each promotion, as in
# Flagger's Promote (the replicas only without an autoscaler).
# Annotations the workload controllers write on the primary themselves.
# The API server keeps a DaemonSet's template generation in deprecated.daemonset.template.generation.
CONTROLLER_ANNOTATION_PREFIXES = ("deployment.kubernetes.io/", "daemonset.kubernetes.io/",
                                  "deprecated.daemonset.template.generation")
COPIED_SPEC_FIELDS = ("strategy", "minReadySeconds", "revisionHistoryLimit",
                      "progressDeadlineSeconds")
# Flagger's pod template annotation with a random UUID, new at initialisation and at each
# promotion, so the primary's pods are replaced even when only the configs they read changed.
INSTANCE_ID_ANNOTATION = "flagger-id"


def new_instance_id():
    """A random UUID (version 4), as Flagger writes into ``flagger-id``."""
    return str(uuid.uuid4())


def primary_pod_template(canary_template, primary_selector, tracked, checksum=None,
                         target_name=None, selector_labels=(), instance_id=None):
    """The pod template the primary should run.

    It is the canary's template with config references rewritten, and with the primary's own
    selector labels laid over the canary's labels, so the primary's selector keeps matching its
    pods (Flagger labels them ``app: <name>-primary``). As in Flagger, Flux's keys are left out,
    and topology spread constraints and pod anti-affinity terms that select the target's pods by
    a selector label are made to select the primary's. ``instance_id`` becomes the
    ``flagger-id`` annotation; one the canary's template carries is never copied.
    """
    template = copy.deepcopy(canary_template)
    metadata = template.setdefault("metadata", {})
    labels = without_flux_keys(metadata.get("labels"))
    labels.update(primary_selector or {})
    metadata["labels"] = labels
    annotations = without_flux_keys(metadata.get("annotations"))
    annotations.pop(INSTANCE_ID_ANNOTATION, None)
    if checksum:
        annotations[CONFIG_CHECKSUM_ANNOTATION] = checksum
    if instance_id:
        annotations[INSTANCE_ID_ANNOTATION] = instance_id
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    spec = rewrite_config_references(template.get("spec") or {}, tracked)
    if target_name:
        for selector in _selectors_of_own_pods(spec):
            _point_at_primary(selector, target_name, selector_labels)
    template["spec"] = spec
    return template


def _selectors_of_own_pods(pod_spec):
    """The label selectors of a pod spec that Flagger rewrites for the primary: topology spread
    constraints and pod anti-affinity terms (preferred and required)."""
    for constraint in pod_spec.get("topologySpreadConstraints") or []:
        yield constraint.get("labelSelector")
    anti = (pod_spec.get("affinity") or {}).get("podAntiAffinity") or {}
    for term in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
        yield (term.get("podAffinityTerm") or {}).get("labelSelector")
    for term in anti.get("requiredDuringSchedulingIgnoredDuringExecution") or []:
        yield term.get("labelSelector")


def _point_at_primary(selector, target_name, selector_labels):
    """``<label>: <target>`` becomes ``<label>: <target>-primary`` for the selector labels."""
    if not selector:
        return
    for expression in selector.get("matchExpressions") or []:
        if expression.get("key") in selector_labels:
            values = expression.get("values") or []
            if target_name in values:
                values[values.index(target_name)] = primary_name(target_name)
    match = selector.get("matchLabels") or {}
    for key in list(match):
        if key in selector_labels and match[key] == target_name:
            match[key] = primary_name(target_name)


def selector_label(obj, selector_labels=SELECTOR_LABELS, kind="Deployment"):
    """``(key, value)`` of the selector label the primary is keyed on: the first of
    ``selector_labels`` in ``obj``'s ``spec.selector.matchLabels`` (Flagger's getSelectorLabel)."""
    match = match_labels(obj)
    for key in selector_labels:
        if match.get(key):
            return key, match[key]
    raise DeliveryError(
        "{0} {1} spec.selector.matchLabels must contain one of {2} (the selector_labels); "
        "got {3}".format(kind, (obj.get("metadata") or {}).get("name"),
                         ", ".join(selector_labels), match or "none"))


def primary_metadata(target, labels_key, include_label_prefix=(), owner=None):
    """``metadata`` of the primary made from the ``target`` object, as Flagger makes it: the
    labels whose key starts with one of ``include_label_prefix`` (none by default) plus the
    primary's selector label, and the target's annotations; Flux's keys never."""
    meta = target.get("metadata") or {}
    key, value = labels_key
    labels = keys_with_prefix(meta.get("labels"), include_label_prefix)
    labels[key] = primary_name(value)
    metadata = {"name": primary_name(meta.get("name")), "namespace": meta.get("namespace"),
                "labels": labels}
    annotations = without_flux_keys(meta.get("annotations"))
    if annotations:
        metadata["annotations"] = annotations
    if owner:
        metadata["ownerReferences"] = [owner]
    return metadata


def primary_object(kind, target, labels_key, primary_spec, copied_fields, include_label_prefix=(),
                   owner=None):
    """The primary of ``kind`` made from the ``target`` object: ``primary_spec`` plus the spec
    fields of ``copied_fields`` the target sets, under the primary's metadata."""
    spec = target.get("spec") or {}
    primary_spec = dict(primary_spec)
    for field in copied_fields:
        if spec.get(field) is not None:
            primary_spec[field] = copy.deepcopy(spec[field])
    return {"apiVersion": "apps/v1", "kind": kind,
            "metadata": primary_metadata(target, labels_key, include_label_prefix, owner),
            "spec": primary_spec}


def build_primary_object(kind, target, tracked, copied_fields, owner=None, selector_labels=SELECTOR_LABELS,
                         include_label_prefix=(), replicas=None, pod_template=None, rewrite_selectors=True):
    """The primary of ``kind``: the target's spec under ``<label>: <value>-primary``.

    ``pod_template`` is the target's pod template as the primary should start from (the target's
    own when None); ``replicas``, when given, is the primary's replica count. With
    ``rewrite_selectors`` the topology spread and anti-affinity selectors of the target's pods are
    made to select the primary's (see primary_pod_template).
    """
    key, value = selector_label(target, selector_labels, kind)
    selector = {key: primary_name(value)}
    if pod_template is None:
        pod_template = (target.get("spec") or {}).get("template") or {}
    rewrite = {}
    if rewrite_selectors:
        rewrite = {"target_name": (target.get("metadata") or {}).get("name"),
                   "selector_labels": selector_labels}
    primary_spec = {} if replicas is None else {"replicas": replicas}
    primary_spec["selector"] = {"matchLabels": selector}
    primary_spec["template"] = primary_pod_template(pod_template, selector, tracked,
                                                    instance_id=new_instance_id(), **rewrite)
    return primary_object(kind, target, (key, value), primary_spec, copied_fields,
                          include_label_prefix, owner)


def needed_for(total, ready_threshold):
    """How many of ``total`` pods must be available to meet ``ready_threshold`` percent."""
    return -(-total * ready_threshold // 100)


def container_images(pod_template):
    return dict((c.get("name"), c.get("image")) for c in (pod_template.get("spec") or {}).get("containers") or [])


def _poll(progress, timeout, clock, sleep, poll_seconds):
    """Call ``progress`` until it says ready or ``timeout`` seconds passed; its last answer."""
    deadline = clock() + timeout
    while True:
        ready, message = progress()
        if ready or clock() >= deadline:
            return ready, message
        sleep(poll_seconds)


def match_labels(obj):
    return (((obj or {}).get("spec") or {}).get("selector") or {}).get("matchLabels") or {}


def replicas_on_revert(target, primary, autoscaler_min_replicas=None):
    """The replicas Flagger's Finalize gives a target: the primary's (1 when it sets none);
    without a primary, the target's own when above zero, else the autoscaler's minReplicas when
    above one, else 1 (Flagger's ScaleFromZero)."""
    if primary is not None:
        replicas = (primary.get("spec") or {}).get("replicas")
        return 1 if replicas is None else replicas
    own = (target.get("spec") or {}).get("replicas")
    if own:
        return own
    if autoscaler_min_replicas and autoscaler_min_replicas > 1:
        return autoscaler_min_replicas
    return 1


class Target(abc.ABC):
    """One canary target ``name`` and its primary, in ``namespace``."""

    kind = None
    api_version = None
    # The spec fields the primary takes from the target at creation and at each promotion.
    copied_spec_fields = COPIED_SPEC_FIELDS

    def __init__(self, client, namespace, name, primary_ready_threshold=FULLY_READY,
                 selector_labels=SELECTOR_LABELS, include_label_prefix=(), autoscaled=None):
        self.client = client
        self.namespace = namespace
        self.name = name
        self.primary = primary_name(name)
        self.primary_ready_threshold = primary_ready_threshold
        # Flagger's -selector-labels and -include-label-prefix controller flags.
        self.selector_labels = tuple(selector_labels or SELECTOR_LABELS)
        self.include_label_prefix = tuple(include_label_prefix or ())
        # Whether the Canary names an autoscaler (None: not known, the replicas are left alone).
        self.autoscaled = autoscaled
        self.configs = ConfigTracker(client, namespace)
        self._resource = None

    @property
    def resource(self):
        if self._resource is None:
            self._resource = get_resource(self.client, self.api_version, self.kind)
        return self._resource

    # -- what a kind defines ----------------------------------------------------------------
    @abc.abstractmethod
    def build_primary(self, target, tracked, owner=None, min_replicas=None):
        """The primary object made from the ``target`` object (Flagger's Initialize)."""

    @abc.abstractmethod
    def rollout_progress(self, obj, ready_threshold=FULLY_READY):
        """``(ready, message)`` for an object of this kind; ``ready_threshold`` is the percentage
        of its updated pods that must be available."""

    @abc.abstractmethod
    def scale_to_zero(self):
        """Stop the target's pods (Flagger's ScaleToZero); a no-op when they are stopped."""

    @abc.abstractmethod
    def scale_up(self, replicas=None):
        """Run the target's pods again (Flagger's ScaleFromZero); ``replicas`` is what a kind
        with a replica count runs. A no-op when they run."""

    @abc.abstractmethod
    def is_scaled_to_zero(self, obj):
        """Whether the object of this kind is scaled to zero."""

    @abc.abstractmethod
    def replicas(self, obj):
        """How many pods the object of this kind runs or is asked to run (0 when scaled to
        zero)."""

    # -- the same for every kind ------------------------------------------------------------
    def get(self, name):
        return get_object(self.resource, self.namespace, name)

    def require(self, name, role, hint=""):
        """The object ``name``, or an error naming it and its ``role``."""
        obj = self.get(name)
        if obj is None:
            raise DeliveryError("{0} {1}/{2} ({3}) not found{4}".format(
                self.kind, self.namespace, name, role, hint))
        return obj

    def require_primary(self):
        return self.require(self.primary, "primary",
                            "; initialise the canary first so the primary exists")

    @staticmethod
    def pod_template(obj):
        return ((obj or {}).get("spec") or {}).get("template") or {}

    def revision(self, target, configs=None):
        """``(revision, trackedConfigs)`` of the ``target`` object: what lastAppliedSpec and
        lastPromotedSpec compare (Flagger's HasTargetChanged). ``configs`` are the tracked
        configs when the caller has read them already."""
        template = self.pod_template(target)
        if configs is None:
            configs = self.configs.read(template)
        tracked = self.configs.checksums(configs)
        return revision_checksum(template, tracked), tracked

    def is_primary_ready(self, primary=None):
        """``(ready, message)`` for the primary, judged with primaryReadyThreshold."""
        if primary is None:
            primary = self.require_primary()
        return self.rollout_progress(primary, self.primary_ready_threshold)

    def deadline_exceeded(self, obj, deadline_seconds, now, since=None):
        """Whether the object of this kind, not ready, is stuck past ``deadline_seconds``
        (Flagger's non-retriable readiness error): by default, ``since`` (the Canary's
        lastTransitionTime, epoch seconds) plus the deadline lies before ``now``, as Flagger judges
        a DaemonSet. A kind with rollout conditions overrides it."""
        return since is not None and since + deadline_seconds < now

    def canary_readiness(self, obj, ready_threshold, deadline_seconds, now, since=None):
        """``(ready, retriable, message)`` for the canary object ``obj`` during the analysis, as
        Flagger's IsCanaryReady: not ready but retriable halts the tick, not retriable (the
        progress deadline exceeded) rolls the release back."""
        ready, message = self.rollout_progress(obj, ready_threshold)
        if ready:
            return True, True, message
        return False, not self.deadline_exceeded(obj, deadline_seconds, now, since), message

    def wait_for_primary(self, timeout, clock, sleep, poll_seconds):
        """Poll the primary until it is ready or ``timeout`` seconds passed; the last
        ``(ready, message)``. The caller says what a primary that is not ready means."""
        return _poll(self.is_primary_ready, timeout, clock, sleep, poll_seconds)

    def wait_for_primary_or_raise(self, timeout, clock, sleep, poll_seconds, failure):
        """``wait_for_primary``, returning the ready primary's message; when it is not ready in
        time, raise the error ``failure(primary, message)`` builds, ``primary`` being
        ``<kind> <namespace>/<name>``: the caller says what was left as it was."""
        ready, message = self.wait_for_primary(timeout, clock, sleep, poll_seconds)
        if not ready:
            raise failure("{0} {1}/{2}".format(self.kind, self.namespace, self.primary), message)
        return message

    def wait_until_ready(self, name, ready_threshold, timeout, clock, sleep, poll_seconds):
        """Poll the object ``name`` (of this kind) until ``ready_threshold`` percent of its pods
        are ready or ``timeout`` seconds passed; the last ``(ready, message)``."""
        return _poll(lambda: self.rollout_progress(self.require(name, "target"), ready_threshold),
                     timeout, clock, sleep, poll_seconds)

    def revert_replicas(self, target, primary, autoscaler_min_replicas=None):
        """The replicas Flagger's Finalize gives the ``target`` object back when its Canary is
        deleted with revertOnDeletion (see replicas_on_revert), or None when it runs them
        already. ``primary`` is the primary object (None when it is gone);
        ``autoscaler_min_replicas`` the minReplicas of the Canary's autoscaler, if it has one."""
        wanted = replicas_on_revert(target, primary, autoscaler_min_replicas)
        return None if self.replicas(target) == wanted else wanted

    def selector_label(self, obj):
        """``(key, value)`` of the selector label the primary is keyed on."""
        return selector_label(obj, self.selector_labels, self.kind)

    def primary_template(self, canary_template, primary, tracked, checksum=None, instance_id=None):
        """The pod template ``primary`` should run to run what the canary runs."""
        return primary_pod_template(canary_template, match_labels(primary), tracked, checksum,
                                    target_name=self.name, selector_labels=self.selector_labels,
                                    instance_id=instance_id)

    def promoted_primary(self, primary, canary, tracked, checksum=None):
        """The primary object after promoting ``canary`` into it (Flagger's Promote): the pod
        template, the spec fields it copies, and labels and annotations by the include-label
        prefixes.

        As in Flagger, a promotion writes a new ``flagger-id`` into the pod template. A primary
        that already runs what the canary runs keeps its own, so promoting it again (a resumed
        run) changes nothing and does not replace its pods a second time.
        """
        wanted = copy.deepcopy(primary)
        spec = wanted.setdefault("spec", {})
        canary_spec = canary.get("spec") or {}
        current_id = ((self.pod_template(primary).get("metadata") or {}).get("annotations")
                      or {}).get(INSTANCE_ID_ANNOTATION)
        spec["template"] = self.primary_template(self.pod_template(canary), primary, tracked,
                                                 checksum, instance_id=current_id)
        for field in self.copied_spec_fields:
            if canary_spec.get(field) is not None:
                spec[field] = copy.deepcopy(canary_spec[field])
            else:
                spec.pop(field, None)
        if self.autoscaled is False and canary_spec.get("replicas"):
            spec["replicas"] = canary_spec["replicas"]
        canary_meta = canary.get("metadata") or {}
        meta = wanted.setdefault("metadata", {})
        key, value = self.selector_label(canary)
        labels = keys_with_prefix(canary_meta.get("labels"), self.include_label_prefix)
        labels[key] = primary_name(value)
        meta["labels"] = labels
        annotations = keys_with_prefix(canary_meta.get("annotations"), self.include_label_prefix)
        # What the API server's controllers keep on the primary (its rollout revision) stays, so
        # promoting again changes nothing.
        annotations.update((k, v) for k, v in (meta.get("annotations") or {}).items()
                           if k.startswith(CONTROLLER_ANNOTATION_PREFIXES))
        if annotations:
            meta["annotations"] = annotations
        else:
            meta.pop("annotations", None)
        if wanted != primary:
            template_meta = spec["template"].setdefault("metadata", {})
            template_meta.setdefault("annotations", {})[INSTANCE_ID_ANNOTATION] = new_instance_id()
        return wanted

    def promote(self, canary, tracked, checksum=None):
        """Promote the ``canary`` object into the primary (Flagger's Promote)."""

        def update(obj):
            wanted = self.promoted_primary(obj, canary, tracked, checksum)
            return None if wanted == obj else wanted

        return replace_with_retry(self.resource, self.namespace, self.primary, update)
