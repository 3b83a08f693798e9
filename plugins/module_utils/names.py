# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of Kubernetes object names given by the user, before any API call."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    InvalidInput,
)

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_LABEL_MAX = 63


def is_dns_label(value):
    return (
        isinstance(value, str)
        and len(value) <= DNS_LABEL_MAX
        and DNS_LABEL.match(value) is not None
    )


def require_dns_label(field, value):
    """Return ``value`` if it is a DNS-1123 label, else raise InvalidInput naming ``field``."""
    if not is_dns_label(value):
        raise InvalidInput(
            "{0} must be a DNS label (lowercase letters, digits and '-', starting and ending "
            "with a letter or digit, at most 63 characters); got {1!r}".format(field, value)
        )
    return value
