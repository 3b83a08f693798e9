# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The optional ``requests`` library, imported once and re-exported (private to the collection).

Modules that need it report its absence with ``missing_required_lib("requests")``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import requests  # pylint: disable=unused-import

    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # reported by the module through missing_required_lib()
    requests = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc
