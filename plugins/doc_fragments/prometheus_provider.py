# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # How to reach the metrics provider; every credential is no_log.
    DOCUMENTATION = r"""
options:
  provider:
    description:
      - The metrics provider to query.
      - The alias C(prometheus) is the name this option had in
        M(progressive.delivery.canary_analysis).
      - Built-in checks and inline queries ask Prometheus; anything that serves Prometheus's
        C(/api/v1/query) endpoint works, for example Prometheus, Thanos, Mimir, Cortex or
        VictoriaMetrics.
      - A MetricTemplate's C(spec.provider.type) chooses the provider of that template; then
        O(provider.address), O(provider.headers), O(provider.timeout), O(provider.ca_cert) and
        O(provider.validate_certs) still apply, and the credential options only to C(prometheus).
    type: dict
    default: {}
    aliases: [prometheus]
    suboptions:
      type:
        description:
          - Provider type of built-in checks and inline queries. Only C(prometheus); a
            MetricTemplate names its own provider in C(spec.provider.type).
        type: str
        choices: [prometheus]
        default: prometheus
      address:
        description:
          - Base URL of the provider, for example C(http://prometheus.monitoring:9090).
          - When omitted, the address of the MetricTemplate's provider is used, then the
            E(PROMETHEUS_URL) environment variable.
        type: str
      bearer_token:
        description:
          - 'Token sent as C(Authorization: Bearer <token>).'
          - Mutually exclusive with O(provider.username) and O(provider.password).
        type: str
      username:
        description:
          - User name for HTTP basic authentication.
        type: str
      password:
        description:
          - Password for HTTP basic authentication.
        type: str
      ca_cert:
        description:
          - Path to a CA bundle used to verify the provider's TLS certificate.
        type: path
      validate_certs:
        description:
          - Whether to verify the provider's TLS certificate.
          - Defaults to true, unless a MetricTemplate sets C(insecureSkipVerify).
        type: bool
      timeout:
        description:
          - Seconds to wait for the provider's answer.
        type: float
        default: 10
      headers:
        description:
          - Extra HTTP headers sent with every query, for example C(X-Scope-OrgID) for Mimir.
          - They are merged over a MetricTemplate's C(spec.provider.headers), and win.
          - Treated as secret and never logged, since such headers often carry credentials.
        type: dict
"""
