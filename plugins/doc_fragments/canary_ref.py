# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # A Canary named in the cluster, or given as data by the canary_data fragment's option
    # (args_common.CANARY_REF_ARG_SPEC).
    DOCUMENTATION = r"""
options:
  name:
    description:
      - Name of a Canary to read from the cluster. Requires O(namespace).
      - Mutually exclusive with O(canary).
    type: str
  namespace:
    description:
      - Namespace of the Canary; also the namespace of a manifest given without one.
    type: str
"""
