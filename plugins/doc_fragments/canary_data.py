# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # A Canary given as data: optional beside the canary_ref fragment's options
    # (args_common.CANARY_REF_ARG_SPEC), required where a module states it
    # (args_common.CANARY_ARG_SPEC).
    DOCUMENTATION = r"""
options:
  canary:
    description:
      - The Canary, as P(progressive.delivery.canary_info#module) returns it in its C(canary)
        result, or as a C(flagger.app/v1beta1) Canary manifest.
    type: dict
"""
