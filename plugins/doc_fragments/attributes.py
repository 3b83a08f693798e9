# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The descriptions, and check mode, which every module supports (module.run_module). The
    # sections below give the support levels that several modules share; a module states
    # the others, and its own details, itself.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Can run in check mode and predict the result, including C(changed), without changing the cluster.
    support: full
  diff_mode:
    description: Returns what changed (or would change in check mode) when run with C(--diff).
  idempotent:
    description: Running it again with the same options against the resulting state reports C(changed=false).
  action_group:
    description: Part of the action group C(progressive.delivery.k8s), which extends C(kubernetes.core.k8s),
      so one C(module_defaults) entry configures the connection of both collections' modules.
    support: full
    membership:
      - progressive.delivery.k8s
"""

    # A module that changes the cluster, shows what it changed and changes nothing when run again.
    CHANGES = r"""
attributes:
  diff_mode:
    support: full
  idempotent:
    support: full
"""

    # A module that only reads.
    READS = r"""
attributes:
  diff_mode:
    support: N/A
    details: The module changes nothing.
  idempotent:
    support: full
"""

    # A module that acts outside the cluster (calls, messages, measurements): every run acts again.
    ACTS = r"""
attributes:
  diff_mode:
    support: none
  idempotent:
    support: none
"""
