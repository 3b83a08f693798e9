# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads O(canary_file) on the controller before canary_init runs (see plugin_utils/controller_files.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.plugin_utils.controller_files import (
    CanaryFileAction,
)


class ActionModule(CanaryFileAction):
    pass
