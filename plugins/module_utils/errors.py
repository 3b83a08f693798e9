# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exceptions shared by the collection's module_utils (private to this collection)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class DeliveryError(Exception):
    """A failure whose message is already fit to show to the user as ``msg``.

    ``details`` carries extra keys the module adds to its failure result.
    """

    def __init__(self, message, **details):
        super(DeliveryError, self).__init__(message)
        self.details = details


class InvalidInput(DeliveryError):
    """Bad input detected before anything was written to the cluster."""


class MissingLibrary(DeliveryError):
    """An optional Python library that this feature needs is not installed where the module
    runs; the module reports it with ``missing_required_lib(library)``."""

    def __init__(self, library, reason):
        super(MissingLibrary, self).__init__("{0} is required: {1}".format(library, reason))
        self.library = library
        self.reason = reason
