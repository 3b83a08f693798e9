# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The interface every way of routing implements (Flagger's ``pkg/router.Interface``).

A router owns the object that splits traffic between the primary and the canary. The release
code only ever talks to it through these methods, so a new way of routing (header match,
mirroring, another ingress) is a new class in this package and a line in the factory.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import abc

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    InvalidInput,
)

TOTAL_WEIGHT = 100

# What Flagger writes on every Service and TraefikService it generates, whatever the Canary's own
# metadata says, so that Flux (kustomize-controller, helm-controller drift detection) does not
# revert the changes a release makes to them.
FLUX_RECONCILE_DISABLED = {
    "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    "helm.toolkit.fluxcd.io/driftDetection": "disabled",
}


def with_flux_reconcile_disabled(annotations):
    """A copy of ``annotations`` with Flux's reconciliation of the object switched off (Flagger's
    router filterMetadata): those two keys always win over the Canary's values."""
    result = dict(annotations or {})
    result.update(FLUX_RECONCILE_DISABLED)
    return result


# abc.ABC spelled so that it also loads where the class syntax for metaclasses differs.
_ABC = abc.ABCMeta("_ABC", (object,), {"__slots__": ()})


def split_weights(canary_weight):
    """Return ``{"primary": 100 - w, "canary": w}`` for a canary share ``w`` in percent."""
    if isinstance(canary_weight, str) and canary_weight.strip().isdigit():
        canary_weight = int(canary_weight.strip())
    if isinstance(canary_weight, bool) or not isinstance(canary_weight, int):
        raise InvalidInput(
            "weight must be an integer between 0 and 100 (the canary's share in percent); "
            "got {0!r}".format(canary_weight)
        )
    if canary_weight < 0 or canary_weight > TOTAL_WEIGHT:
        raise InvalidInput(
            "weight must be an integer between 0 and 100 (the canary's share in percent); got {0}".format(
                canary_weight
            )
        )
    return {"primary": TOTAL_WEIGHT - canary_weight, "canary": canary_weight}


class Router(_ABC):
    """Moves a release's traffic between its primary and canary Services."""

    # The value of a Canary's spec.provider this router serves.
    provider = None
    # The key of a Canary's analysis that asks for this way of routing within its provider
    # (such as "match" for A/B testing); None for the provider's default router.
    analysis_key = None

    @classmethod
    def wants(cls, canary):
        """Whether a parsed Canary asks for this router's way of routing."""
        return bool(cls.analysis_key and (canary.get("analysis") or {}).get(cls.analysis_key))

    @abc.abstractmethod
    def describe(self):
        """The routing object in words, for messages and diff headers."""

    @abc.abstractmethod
    def api_version(self, required=True):
        """The group/version of the routing object the cluster serves.

        Without ``required`` a cluster that serves none gives None instead of an error.
        """

    @abc.abstractmethod
    def plan(self, canary_weight, create=False, takeover=False):
        """Read the routing object and work out what sending ``canary_weight`` percent to the
        canary would change, without writing (check mode, and every refusal before the first
        write of a run). Returns a plan with ``changed``, ``weights`` and ``previous``."""

    @abc.abstractmethod
    def apply(self, plan, check_mode=False):
        """Write a plan made by :meth:`plan` (nothing in check mode)."""

    @abc.abstractmethod
    def reconcile(self, plan=None, check_mode=False, owner=None):
        """Create the routing object with all traffic on the primary (owned by ``owner``, an
        ownerReference, when given), or adopt the one there without touching its weights.
        Returns the changes as dicts with kind, name, action, before and after."""

    @abc.abstractmethod
    def set_routes(self, primary, canary, create=False, takeover=False, check_mode=False):
        """Send ``primary`` and ``canary`` percent of the traffic to each; a result dict with
        changed, weights, previous and diff."""

    @abc.abstractmethod
    def get_routes(self):
        """The weights as they are now: ``{"primary": p, "canary": c}``."""

    @abc.abstractmethod
    def finalize(self, check_mode=False):
        """Leave the routing as a finished release does: all traffic on the primary."""

    @staticmethod
    @abc.abstractmethod
    def service_matcher(namespace, service, port=None):
        """The PromQL label matcher that selects one Service's traffic in the metrics of the
        proxy doing the routing."""

    def plan_reconcile(self):
        """What :meth:`reconcile` will do, read and checked before a run's first write."""
        return self.plan(0, create=True)

    def weights_for(self, primary, canary):
        """``primary``/``canary`` checked to be a split of the whole traffic."""
        weights = split_weights(canary)
        if isinstance(primary, bool) or primary != weights["primary"]:
            raise InvalidInput(
                "the primary and canary weights must add up to {0}; got {1!r} and {2!r}".format(
                    TOTAL_WEIGHT, primary, canary))
        return weights
