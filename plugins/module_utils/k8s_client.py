# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes API access for this collection, built on kubernetes.core's client factory.

Reusing kubernetes.core (rather than the unmaintained ``openshift`` package) means our modules
accept the same connection options, ``K8S_AUTH_*`` environment variables and ``module_defaults``
as kubernetes.core's own modules.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import copy

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import (
    AUTH_ARG_SPEC,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
)
from ansible_collections.progressive.delivery.plugins.module_utils.retry import (
    call_with_retry,
    is_transient,
    is_transient_or_caused_by_one,
    server_said,
    update_guarded,
)

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import (
        get_api_client,
    )
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import (
        CoreException,
    )
    from kubernetes.dynamic.exceptions import (
        ConflictError,
        DynamicApiError,
        NotFoundError,
        ResourceNotFoundError,
    )

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # reported by the module through missing_required_lib()
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc

    # Distinct stand-ins keep the except clauses below meaningful; the module fails with
    # missing_required_lib() before any of them could be raised.
    class CoreException(Exception):  # type: ignore[no-redef]
        pass

    class DynamicApiError(Exception):  # type: ignore[no-redef]
        pass

    class ConflictError(DynamicApiError):  # type: ignore[no-redef]
        pass

    class NotFoundError(DynamicApiError):  # type: ignore[no-redef]
        pass

    class ResourceNotFoundError(Exception):  # type: ignore[no-redef]
        pass


CONFLICT_RETRIES = 10


def k8s_auth_argument_spec():
    """A fresh copy of kubernetes.core's connection options, safe for a module to extend."""
    return copy.deepcopy(AUTH_ARG_SPEC)


def get_dynamic_client(module, policy=None):
    """Return a ``kubernetes.dynamic.DynamicClient`` configured from the module's auth options.

    Options left unset fall back to ``K8S_AUTH_*`` environment variables, then in-cluster
    configuration, then the kubeconfig file, exactly as in kubernetes.core.
    """
    auth = dict((key, module.params.get(key)) for key in AUTH_ARG_SPEC)
    action = "connect to the Kubernetes API"
    try:
        # Passing the options rather than the module keeps dry_run off: our modules predict
        # check-mode results themselves and never send a write in check mode. Construction runs
        # discovery, so an overloaded API server fails it; kubernetes.core may wrap that fault.
        return call_with_retry(lambda: get_api_client(**auth).client, action, policy,
                               retry_on=is_transient_or_caused_by_one)
    except DeliveryError:
        raise
    except CoreException as exc:
        raise DeliveryError("Could not connect to the Kubernetes API: {0}".format(exc))
    except Exception as exc:  # kubeconfig parse errors, unreachable server during discovery
        raise DeliveryError(api_error_message(exc, action))


def object_metadata(name, namespace, labels=None, annotations=None, owner=None):
    """``metadata`` of an object to create; ``owner`` is an ownerReference (the Canary's)."""
    meta = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    if owner:
        meta["ownerReferences"] = [dict(owner)]
    return meta


# Flux's keys (kustomize.toolkit.fluxcd.io/name, helm.toolkit.fluxcd.io/...): Flagger never copies
# them onto what it generates, so Flux does not take the copies for objects of its own.
FLUX_MARKER = "toolkit.fluxcd.io"


def without_flux_keys(mapping):
    """``mapping`` (labels or annotations) without Flux's keys."""
    return dict((k, v) for k, v in (mapping or {}).items() if FLUX_MARKER not in k)


def keys_with_prefix(mapping, prefixes):
    """The entries of ``mapping`` whose key starts with one of ``prefixes`` (``*``: any key),
    without Flux's keys: Flagger's -include-label-prefix."""
    return dict((k, v) for k, v in without_flux_keys(mapping).items()
                if any(p == "*" or (p and k.startswith(p)) for p in prefixes or ()))


class LazyClient(object):
    """``get_dynamic_client(module)`` on first call, so modules that may not need the cluster
    (plain webhooks, alerts without AlertProviders) work without the kubernetes library."""

    def __init__(self, module):
        self.module = module
        self._client = None

    def __call__(self):
        if self._client is None:
            if not HAS_KUBERNETES:
                self.module.fail_json(msg=missing_required_lib("kubernetes"))
            self._client = get_dynamic_client(self.module)
        return self._client


def _discover(client, api_version, kind, policy=None):
    action = "discover {0} in {1}".format(kind, api_version)

    def lookup():
        return client.resources.get(api_version=api_version, kind=kind)

    try:
        return call_with_retry(lookup, action, policy)
    except ResourceNotFoundError:
        # kubernetes' discoverer takes a 503 for a group's discovery document as "this group
        # serves nothing", so a passing fault would read as a missing CRD. Ask the document
        # itself, with retries, before believing it; when it lists the kind, keep looking.
        if not _listed_in_discovery(client, api_version, kind, action, policy):
            raise
        return call_with_retry(
            lookup, action, policy,
            retry_on=lambda exc: is_transient(exc) or isinstance(exc, ResourceNotFoundError))


def _listed_in_discovery(client, api_version, kind, action, policy=None):
    request = getattr(client, "request", None)
    if request is None:  # a client without raw requests cannot tell more
        return False
    path = "/api/v1" if api_version == "v1" else "/apis/{0}".format(api_version)
    try:
        document = call_with_retry(lambda: request("GET", path), action, policy)
    except NotFoundError:
        return False
    document = document.to_dict() if hasattr(document, "to_dict") else document
    return any(entry.get("kind") == kind for entry in (document or {}).get("resources") or [])


def get_resource(client, api_version, kind, policy=None):
    """Return the dynamic-client resource for ``kind`` in ``api_version``."""
    try:
        return _discover(client, api_version, kind, policy)
    except ResourceNotFoundError:
        raise DeliveryError(
            "The API server does not serve kind {0} in {1}; is the CRD installed?".format(
                kind, api_version
            )
        )
    except DynamicApiError as exc:
        raise DeliveryError(
            api_error_message(exc, "discover {0} in {1}".format(kind, api_version))
        )


def is_served(client, api_version, kind, policy=None):
    try:
        _discover(client, api_version, kind, policy)
        return True
    except ResourceNotFoundError:
        return False


def api_error_message(exc, action):
    """Describe a failed API call as "what we tried: what the server said"."""
    return "Failed to {0}: {1}".format(action, server_said(exc))


@contextlib.contextmanager
def api_action(action):
    """An API error that ends the block becomes a DeliveryError worded by api_error_message
    (``Failed to <action>: ...``); a DeliveryError leaves it unchanged."""
    try:
        yield
    except DeliveryError:
        raise
    except DynamicApiError as exc:
        raise DeliveryError(api_error_message(exc, action))


def serves_now(client, api_version, kind):
    """Like is_served, but also asks the group's discovery document itself: the client's
    discovery cache outlives a deleted CRD, and a write would then fail with a bare 404."""
    if not is_served(client, api_version, kind):
        return False
    if getattr(client, "request", None) is None:
        return True
    return _listed_in_discovery(client, api_version, kind, "discover {0} in {1}".format(kind, api_version))


def _describe(resource, namespace, name):
    return "{0} {1}/{2}".format(resource.kind, namespace, name)


def read_once(resource, namespace, name):
    """One GET of the object as a dict; None when it does not exist. Faults are raised raw."""
    try:
        return resource.get(name=name, namespace=namespace).to_dict()
    except NotFoundError:
        return None


def get_object(resource, namespace, name, policy=None):
    """Return the object as a plain dict, or None when it does not exist."""
    action = "read {0}".format(_describe(resource, namespace, name))
    with api_action(action):
        return call_with_retry(lambda: read_once(resource, namespace, name), action, policy)


def replace_with_retry(resource, namespace, name, mutate, attempts=CONFLICT_RETRIES, policy=None,
                       known=None):
    """Read-modify-write one object, guarded by its resourceVersion.

    ``mutate(current)`` returns the desired object (a modified copy) or None for "no change".
    A 409 Conflict means someone wrote in between: read again and re-apply ``mutate``, so the
    decision is always made on the latest state; transient faults are retried the same way.
    ``attempts`` bounds the conflicts in a row. Returns ``(before, after)``.
    ``known`` is the object as the caller just read it: the first attempt writes on top of it
    instead of reading again (a stale one costs a 409 and a re-read, never a lost change).
    """
    what = _describe(resource, namespace, name)
    action = "update {0}".format(what)
    first = [copy.deepcopy(known)] if known else []

    def read():
        if first:
            return first.pop()
        return read_once(resource, namespace, name)

    def guarded_mutate(current):
        if current is None:
            raise DeliveryError("{0} disappeared while it was being updated".format(what))
        return mutate(current)

    def write(desired):
        return resource.replace(body=desired, namespace=namespace, name=name).to_dict()

    with api_action(action):
        return update_guarded(read, guarded_mutate, write, action, policy, max_conflicts=attempts)


def replace_spec(resource, namespace, name, spec, policy=None):
    """Give the object ``spec`` (guarded by resourceVersion); nothing is written when it has it."""
    def mutate(obj):
        if obj.get("spec") == spec:
            return None
        obj["spec"] = spec
        return obj

    return replace_with_retry(resource, namespace, name, mutate, policy=policy)


def create_object(resource, namespace, body, policy=None):
    """Create the object; returns it as written.

    A create is repeated only after a transient fault. When the first attempt reached the server
    but its answer was lost, the repeat meets 409 AlreadyExists; the object that is there then is
    the one we created, so it is read back and accepted.
    """
    name = body.get("metadata", {}).get("name")
    action = "create {0}".format(_describe(resource, namespace, name))
    attempts = [0]

    def create():
        attempts[0] += 1
        return resource.create(body=body, namespace=namespace).to_dict()

    try:
        return call_with_retry(create, action, policy)
    except ConflictError as exc:
        # AlreadyExists on the very first attempt is someone else's object: refuse it.
        if attempts[0] > 1 and name:
            existing = get_object(resource, namespace, name, policy)
            if existing is not None:
                return existing
        raise DeliveryError(api_error_message(exc, action))
    except DynamicApiError as exc:
        raise DeliveryError(api_error_message(exc, action))


def list_objects(resource, namespace, label_selector=None, policy=None):
    """The objects of one kind in ``namespace`` as plain dicts."""
    action = "list {0} in {1}".format(resource.kind, namespace)
    kwargs = {"namespace": namespace}
    if label_selector:
        kwargs["label_selector"] = label_selector
    with api_action(action):
        listed = call_with_retry(lambda: resource.get(**kwargs).to_dict(), action, policy)
    return listed.get("items") or []


def delete_object(resource, namespace, name, policy=None):
    """Delete the object; True when it was there, False when it was already gone."""
    action = "delete {0}".format(_describe(resource, namespace, name))

    def delete():
        try:
            resource.delete(name=name, namespace=namespace)
            return True
        except NotFoundError:
            return False

    with api_action(action):
        return call_with_retry(delete, action, policy)
