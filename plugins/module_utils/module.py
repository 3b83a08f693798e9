# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module base class: kubernetes.core's module wrapper plus one place that turns our
exceptions into ``fail_json`` and honours ``--diff``, and the ``main()`` every module shares."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import (
    AnsibleK8SModule,
)
from ansible_collections.progressive.delivery.plugins.module_utils.args_common import (
    argument_spec,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    MissingLibrary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    CoreException,
    k8s_auth_argument_spec,
)


class DeliveryModule(AnsibleK8SModule):
    @staticmethod
    def k8s_argument_spec():
        return k8s_auth_argument_spec()

    def run(self, work):
        """Call ``work(self)`` and exit with its result dict.

        A ``diff`` key in the result is only returned when the user asked for ``--diff``.
        """
        try:
            result = work(self)
        except MissingLibrary as exc:
            self.fail_json(msg=missing_required_lib(exc.library), exception=str(exc.reason))
        except DeliveryError as exc:
            self.fail_json(msg=str(exc), **exc.details)
        except CoreException as exc:
            self.fail_from_exception(exc)
        diff = result.pop("diff", None)
        if self._diff and diff is not None:
            result["diff"] = diff
        self.exit_json(**result)


def module_argument_spec(*groups, **own):
    """A module's spec: the Kubernetes connection options, the shared ``groups`` of
    args_common, then the module's ``own`` options."""
    return argument_spec(k8s_auth_argument_spec(), *groups, **own)


def run_module(work, spec, **constraints):
    """A module's ``main()``: every module supports check mode; ``work(module)`` does the task
    and returns the result, and ``constraints`` are AnsibleModule's (mutually_exclusive, ...)."""
    DeliveryModule(argument_spec=spec, supports_check_mode=True, **constraints).run(work)
