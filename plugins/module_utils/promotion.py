# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Promotion: the canary's pod template and configuration become the primary's, then all
traffic goes to the primary and the canary is scaled to zero.

Everything that can be refused (missing Deployments, missing ConfigMaps/Secrets, a foreign
TraefikService) is checked before the first write. Routing changes only after the primary has
rolled out, so a primary that never becomes ready leaves traffic where it was; nor does it change
when the run that started the promotion died during that wait (see controller_watch).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.names import (
    primary_name,
    require_dns_label,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.factory import (
    router_for,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_weighted import (
    Route,
    TraefikWeightedRouter,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.factory import (
    target_for,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.base import (
    container_images,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.config_tracking import (
    configs_checksum,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.deployment import (
    DeploymentTarget,
)

POLL_SECONDS = 1.0


class Promotion(object):
    def __init__(self, client, namespace, name, timeout, router, clock=time.monotonic,
                 sleep=time.sleep, route_traffic=True, scale_down=True, before_write=None,
                 workload=None):
        self.client = client
        self.namespace = require_dns_label("namespace", namespace)
        self.name = require_dns_label("name", name)
        self.primary = primary_name(name)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise InvalidInput("timeout must be a positive number of seconds; got {0!r}".format(timeout))
        self.timeout = timeout
        self.router = router
        # stepWeightPromotion moves traffic back in steps after the primary rolled out, so the
        # caller can keep routing and the canary as they are and finish them later.
        self.route_traffic = route_traffic
        self.scale_down = scale_down
        self.clock = clock
        self.sleep = sleep
        # Called before the first write and again after the primary's rollout, before routing and
        # scaling down: it raises when the run that started the promotion is gone, and the next
        # run finishes the promotion.
        self.before_write = before_write
        # A Canary's target knows its kind and primaryReadyThreshold; canary_promote's options
        # without a Canary name no kind: it promotes Deployments.
        self.workload = workload or DeploymentTarget(client, self.namespace, self.name)
        self.actions = []
        self.timings = {}

    def _ref(self, name):
        return "{0}.{1}".format(name, self.namespace)

    def _plan_configs(self, canary_template):
        """The configs to track, the copies that need writing, and their checksum."""
        tracker = self.workload.configs
        configs = tracker.read(canary_template)
        writes = [(kind, wanted, current) for kind, wanted, current in tracker.copies(configs)
                  if not tracker.copy_is_current(current, wanted)]
        return set(configs), writes, (configs_checksum(configs) if configs else None)

    def _write_configs(self, writes):
        for kind, wanted, current in writes:
            self.workload.configs.write_copy(kind, wanted, current)

    def _wait_for_primary(self):
        return self.workload.wait_for_primary_or_raise(
            self.timeout, self.clock, self.sleep, POLL_SECONDS,
            lambda primary, why: DeliveryError(
                "primary {0} did not finish its rollout within {1}s ({2}); traffic routing was left "
                "unchanged and the canary was not scaled down".format(primary, _seconds(self.timeout), why),
                timings=self.timings, actions=self.actions, primary_not_ready=True,
                primary_message="{0}.{1} not ready: {2}".format(self.primary, self.namespace, why)))

    def _timed(self, key, func, *args):
        start = self.clock()
        try:
            return func(*args)
        finally:
            self.timings[key] = round(self.clock() - start, 3)

    def run(self, check_mode=False):
        started = self.clock()
        canary = self.workload.require(self.name, "canary")
        primary = self.workload.require_primary()
        canary_template = self.workload.pod_template(canary)
        tracked, config_writes, checksum = self._plan_configs(canary_template)
        promoted = self.workload.promoted_primary(primary, canary, tracked, checksum)
        desired_template = self.workload.pod_template(promoted)
        current_template = self.workload.pod_template(primary)
        template_changed = promoted != primary
        route_plan = self.router.plan(0)
        route_changed = route_plan.changed and self.route_traffic
        weights_after = route_plan.weights if self.route_traffic else route_plan.previous
        canary_replicas = self.workload.replicas(canary)
        if not self.scale_down:
            canary_replicas = 0

        changed = bool(template_changed or config_writes or route_changed or canary_replicas)
        result = {
            "changed": changed,
            "primary": {"name": self.primary, "images": container_images(desired_template)},
            "configs": sorted("{0}/{1}".format(kind, primary_name(name)) for kind, name in tracked),
            "weights": weights_after,
            "previous_weights": route_plan.previous,
            "diff": {
                "before": {
                    "primary_template": current_template,
                    "weights": route_plan.previous,
                    "canary_replicas": canary_replicas,
                },
                "after": {
                    "primary_template": desired_template,
                    "weights": weights_after,
                    "canary_replicas": 0,
                },
            },
        }
        if not changed or check_mode:
            result["actions"] = []
            result["timings"] = {}
            return result

        if self.before_write is not None:
            self.before_write()
        if config_writes:
            self.actions.append("Copying {0} to the primary's copies".format(", ".join(
                "{0} {1}".format(kind, wanted["metadata"]["name"]) for kind, wanted, _current in config_writes)))
            self._timed("configs", self._write_configs, config_writes)
        if template_changed:
            self.actions.append("Copying {0} template spec to {1}".format(
                self._ref(self.name), self._ref(self.primary)))
            self._timed("primary_update", self.workload.promote, canary, tracked, checksum)
        self.actions.append("Waiting for {0} rollout to finish".format(self._ref(self.primary)))
        self.actions.append(self._timed("primary_rollout", self._wait_for_primary))
        if self.before_write is not None:
            self.before_write()
        if route_changed:
            self.actions.append("Routing all traffic to primary")
            self._timed("routing", self.router.apply, route_plan)
        if canary_replicas:
            self.actions.append("Scaling down {0}".format(self._ref(self.name)))
            self._timed("canary_scale_down", self.workload.scale_to_zero)
        self.timings["total"] = round(self.clock() - started, 3)
        result["actions"] = self.actions
        result["timings"] = self.timings
        return result


def _seconds(value):
    return int(value) if float(value) == int(value) else value


def promote(client, namespace, name, timeout, traefik_service=None, primary_service=None,
            canary_service=None, port=None, api_version=None, check_mode=False,
            route_traffic=True, scale_down=True, watch=None, target_labels=None):
    # The TraefikService is named after spec.service.name (Flagger's default for it is the
    # target's name); the Services it splits between are named after the TraefikService.
    # canary_promote names the TraefikService and its Services itself rather than a Canary.
    router = TraefikWeightedRouter(client, Route(
        namespace, traefik_service or name, primary_service=primary_service,
        canary_service=canary_service, port=port, api_version=api_version))
    workload = DeploymentTarget(client, namespace, name, **(target_labels or {}))
    return Promotion(client, namespace, name, timeout, router, route_traffic=route_traffic,
                     scale_down=scale_down, workload=workload,
                     **_waits(watch)).run(check_mode=check_mode)


def promote_canary(client, canary, timeout, api_version=None, check_mode=False,
                   route_traffic=True, scale_down=True, watch=None, target_labels=None):
    """Promote the target of a parsed Canary through the Canary's own router and target."""
    workload = target_for(client, canary, **(target_labels or {}))
    router = router_for(client, canary, api_version=api_version)
    return Promotion(client, canary["namespace"], workload.name, timeout, router,
                     route_traffic=route_traffic, scale_down=scale_down, workload=workload,
                     **_waits(watch)).run(check_mode=check_mode)


def _waits(watch):
    return {} if watch is None else {"sleep": watch.sleep, "before_write": watch.check}
