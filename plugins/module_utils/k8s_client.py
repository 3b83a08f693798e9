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

import copy
import json
import time

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import (
    AUTH_ARG_SPEC,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.traefik import (
    TRAEFIK_API_VERSIONS,
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


CONFLICT_RETRIES = 5


def k8s_auth_argument_spec():
    """A fresh copy of kubernetes.core's connection options, safe for a module to extend."""
    return copy.deepcopy(AUTH_ARG_SPEC)


def get_dynamic_client(module):
    """Return a ``kubernetes.dynamic.DynamicClient`` configured from the module's auth options.

    Options left unset fall back to ``K8S_AUTH_*`` environment variables, then in-cluster
    configuration, then the kubeconfig file, exactly as in kubernetes.core.
    """
    auth = dict((key, module.params.get(key)) for key in AUTH_ARG_SPEC)
    try:
        # Passing the options rather than the module keeps dry_run off: our modules predict
        # check-mode results themselves and never send a write in check mode.
        return get_api_client(**auth).client
    except CoreException as exc:
        raise DeliveryError("Could not connect to the Kubernetes API: {0}".format(exc))
    except Exception as exc:  # kubeconfig parse errors, unreachable server during discovery
        raise DeliveryError(api_error_message(exc, "connect to the Kubernetes API"))


def get_resource(client, api_version, kind):
    """Return the dynamic-client resource for ``kind`` in ``api_version``."""
    try:
        return client.resources.get(api_version=api_version, kind=kind)
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


def is_served(client, api_version, kind):
    try:
        client.resources.get(api_version=api_version, kind=kind)
        return True
    except ResourceNotFoundError:
        return False


def api_error_message(exc, action):
    """Describe a failed API call as "what we tried: what the server said"."""
    status = getattr(exc, "status", None)
    body = getattr(exc, "body", None)
    said = None
    if body:
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        try:
            said = json.loads(body).get("message")
        except (ValueError, AttributeError):
            said = str(body).strip()
    if not said:
        said = getattr(exc, "reason", None) or str(exc) or exc.__class__.__name__
    if status:
        return "Failed to {0}: {1} (HTTP {2})".format(action, said, status)
    return "Failed to {0}: {1}".format(action, said)


def traefik_api_version(client, requested=None):
    """Choose the Traefik CRD group/version to use.

    With ``requested`` set, validate it and make sure the cluster serves it. Otherwise prefer
    ``traefik.io/v1alpha1`` (Traefik v3) and fall back to ``traefik.containo.us/v1alpha1`` (v2).
    """
    allowed = ", ".join(TRAEFIK_API_VERSIONS)
    if requested:
        if requested not in TRAEFIK_API_VERSIONS:
            raise InvalidInput(
                "api_version must be one of {0}; got '{1}'".format(allowed, requested)
            )
        if not is_served(client, requested, "TraefikService"):
            raise DeliveryError(
                "api_version {0} was requested but the API server does not serve "
                "TraefikService in it; are Traefik's CRDs installed?".format(requested)
            )
        return requested
    for candidate in TRAEFIK_API_VERSIONS:
        if is_served(client, candidate, "TraefikService"):
            return candidate
    raise DeliveryError(
        "The API server serves TraefikService in none of {0}; are Traefik's CRDs "
        "installed?".format(allowed)
    )


def get_object(resource, namespace, name):
    """Return the object as a plain dict, or None when it does not exist."""
    try:
        return resource.get(name=name, namespace=namespace).to_dict()
    except NotFoundError:
        return None
    except DynamicApiError as exc:
        raise DeliveryError(
            api_error_message(exc, "read {0} {1}/{2}".format(resource.kind, namespace, name))
        )


def replace_with_retry(resource, namespace, name, mutate, attempts=CONFLICT_RETRIES):
    """Read-modify-write one object, guarded by its resourceVersion.

    ``mutate(current)`` returns the desired object (a modified copy) or None for "no change".
    A 409 Conflict means someone wrote in between: read again and re-apply ``mutate``, so the
    decision is always made on the latest state. Returns ``(before, after)``.
    """
    for attempt in range(attempts):
        before = get_object(resource, namespace, name)
        if before is None:
            raise DeliveryError(
                "{0} {1}/{2} disappeared while it was being updated".format(
                    resource.kind, namespace, name
                )
            )
        desired = mutate(copy.deepcopy(before))
        if desired is None:
            return before, before
        desired.setdefault("metadata", {})["resourceVersion"] = before["metadata"][
            "resourceVersion"
        ]
        try:
            after = resource.replace(body=desired, namespace=namespace, name=name)
            return before, after.to_dict()
        except ConflictError:
            time.sleep(0.05 * (attempt + 1))
        except DynamicApiError as exc:
            raise DeliveryError(
                api_error_message(exc, "update {0} {1}/{2}".format(resource.kind, namespace, name))
            )
    raise DeliveryError(
        "Failed to update {0} {1}/{2}: the object kept changing underneath us "
        "(409 Conflict {3} times)".format(resource.kind, namespace, name, attempts)
    )


def create_object(resource, namespace, body):
    try:
        return resource.create(body=body, namespace=namespace).to_dict()
    except DynamicApiError as exc:
        name = body.get("metadata", {}).get("name")
        raise DeliveryError(
            api_error_message(exc, "create {0} {1}/{2}".format(resource.kind, namespace, name))
        )
