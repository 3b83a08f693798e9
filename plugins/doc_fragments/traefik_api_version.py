# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # args_common.TRAEFIK_API_VERSION_ARG_SPEC
    DOCUMENTATION = r"""
options:
  traefik_api_version:
    description:
      - API group and version of Traefik's CRDs.
      - C(traefik.io/v1alpha1) is served by Traefik v3, C(traefik.containo.us/v1alpha1) by Traefik v2.
      - When omitted, it is detected from the API server's discovery, preferring C(traefik.io/v1alpha1).
      - The alias C(api_version) is the name this option had in M(progressive.delivery.canary_weight)
        and M(progressive.delivery.canary_promote).
    type: str
    aliases: [api_version]
    choices:
      - traefik.io/v1alpha1
      - traefik.containo.us/v1alpha1
"""
