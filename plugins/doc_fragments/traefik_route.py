# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The options that locate the weighted TraefikService and the two Services it splits between
    # (args_common.TRAEFIK_ROUTE_ARG_SPEC, with the traefik_api_version fragment).
    DOCUMENTATION = r"""
options:
  primary_service:
    description:
      - Name of the Service that fronts the primary (stable) Deployment.
      - Defaults to the TraefikService's name followed by C(-primary), as Flagger names it
        (the TraefikService, like the apex Service, is named after the Canary's
        C(spec.service.name)).
    type: str
  canary_service:
    description:
      - Name of the Service that fronts the canary Deployment.
      - Defaults to the TraefikService's name followed by C(-canary), as Flagger names it.
    type: str
  port:
    description:
      - Service port both entries of the TraefikService use, as a number or a port name.
      - When omitted, the port already used by the TraefikService's entries is kept.
      - Required when the TraefikService is created or taken over.
    type: raw
"""
