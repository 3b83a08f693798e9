# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # A Canary in a file read on the controller, beside the canary_ref fragment's options
    # (args_common.CANARY_SOURCE_ARG_SPEC).
    DOCUMENTATION = r"""
options:
  canary_file:
    description:
      - Path of a YAML file holding the Canary manifest (other documents in the file are ignored).
      - The file is read on the controller. A relative path is searched for as
        P(ansible.builtin.copy#module)'s O(ansible.builtin.copy#module:src) is - in the role's
        C(files/), the role, the playbook's C(files/) and the playbook's directory, then the directory
        C(ansible-playbook) runs in (an AWX project) - so the task works when the play targets a remote
        or delegated host.
      - Mutually exclusive with O(canary).
    type: path
requirements:
  - PyYAML
"""
