# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Google Cloud Monitoring (Stackdriver), as Flagger asks it: an MQL query of ``timeSeries:query``.

The Secret gives ``project`` and ``serviceAccountKey`` (the service account's JSON key), as in
Flagger. Flagger uses Google's SDK; we speak the documented HTTP APIs instead: the key signs a
JWT (RS256), exchanged at the key's ``token_uri`` for an access token (OAuth 2.0 JWT bearer
grant), then ``POST <address>/v3/projects/<project>/timeSeries:query`` with ``{"query": ...}``.
The value is the first value of the first point of the first time series, as in Flagger.
Without ``serviceAccountKey`` (Flagger would use the node's default credentials) the check is
refused.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

from ansible_collections.progressive.delivery.plugins.module_utils.errors import InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import MetricProvider, NoData, number

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    HAS_CRYPTOGRAPHY = True
except ImportError:  # reported when a stackdriver template is used
    HAS_CRYPTOGRAPHY = False

DEFAULT_ADDRESS = "https://monitoring.googleapis.com"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/monitoring.read"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_LIFETIME = 3600


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed_jwt(key, now):
    """A JWT asking for a monitoring.read token, signed with the service account's key."""
    header = {"alg": "RS256", "typ": "JWT"}
    if key.get("private_key_id"):
        header["kid"] = key["private_key_id"]
    claims = {"iss": key["client_email"], "scope": SCOPE,
              "aud": key.get("token_uri") or DEFAULT_TOKEN_URI,
              "iat": int(now), "exp": int(now) + TOKEN_LIFETIME}
    signing_input = "{0}.{1}".format(
        _b64url(json.dumps(header, separators=(",", ":")).encode("utf-8")),
        _b64url(json.dumps(claims, separators=(",", ":")).encode("utf-8")))
    private_key = serialization.load_pem_private_key(key["private_key"].encode("utf-8"),
                                                     password=None)
    signature = private_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(),
                                 hashes.SHA256())
    return signing_input + "." + _b64url(signature)


def _service_account_key(text):
    try:
        key = json.loads(text)
    except ValueError:
        key = None
    if not isinstance(key, dict) or not all(key.get(k) for k in ("client_email", "private_key")):
        raise InvalidInput("the stackdriver Secret's serviceAccountKey must be a service account's "
                           "JSON key with client_email and private_key")
    return key


class StackdriverProvider(MetricProvider):
    type = "stackdriver"
    label = "Google Cloud Monitoring"
    required_credentials = (("project", "serviceAccountKey"),)
    secret_required = True
    default_address = DEFAULT_ADDRESS

    def configure(self):
        if not HAS_CRYPTOGRAPHY:
            raise InvalidInput("the stackdriver provider needs the cryptography Python library "
                               "to sign its token request; install it with pip install "
                               "cryptography")
        self.project = self.credentials.get("project", "")
        self.key = _service_account_key(self.credentials.get("serviceAccountKey", ""))
        self._token = None

    def _access_token(self):
        if self._token is None:
            token_uri = self.key.get("token_uri") or DEFAULT_TOKEN_URI
            answer = self.json_answer(self.request(
                "POST", token_uri, data={"grant_type": JWT_BEARER,
                                         "assertion": signed_jwt(self.key, self.now())}))
            if not answer.get("access_token"):
                raise self.error("the token endpoint answered without an access_token")
            self._token = answer["access_token"]
        return self._token

    def _ask(self, query):
        url = "{0}/v3/projects/{1}/timeSeries:query".format(self.address, self.project)
        return self.json_answer(self.request(
            "POST", url, json={"query": query},
            headers={"Authorization": "Bearer {0}".format(self._access_token())}))

    def run_query(self, query):
        series = self._ask(query).get("timeSeriesData") or []
        points = (series[0].get("pointData") or []) if series else []
        values = (points[0].get("values") or []) if points else []
        if not values:
            raise NoData("Google Cloud Monitoring returned no time series data")
        value = values[0]
        for field in ("doubleValue", "int64Value"):
            if value.get(field) is not None:
                return number(value[field], "Google Cloud Monitoring's " + field)
        raise NoData("the first point has no doubleValue or int64Value: {0}".format(
            json.dumps(value)[:200]))

    def is_online(self):
        self._access_token()
        return True
