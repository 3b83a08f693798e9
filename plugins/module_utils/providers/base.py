# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every metrics provider offers, in the shape of Flagger's ``pkg/metrics/providers``.

A provider runs one query and returns one number (Flagger's ``RunQuery``), or says there was no
value (``NoData``, Flagger's ``ErrNoValuesFound``), or that it could not answer
(``ProviderError``). ``is_online`` is Flagger's ``IsOnline``. A provider is built from a
MetricTemplate's ``spec.provider`` (address, insecureSkipVerify, headers) and the decoded data of
the Secret its ``secretRef`` names (``credentials``, possibly empty); it never prints them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import math
import re
import string
import time

from ansible.module_utils.six.moves.urllib.parse import (  # pylint: disable=import-error
    urlsplit,
)

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.requests_compat import (
    requests,
)

DEFAULT_TIMEOUT = 10
DEFAULT_METRIC_INTERVAL = "1m"
# Units of a metric interval (a Prometheus duration, which is also valid Go for ms/s/m/h).
INTERVAL_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800,
                  "y": 31536000}
INTERVAL_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w|y)")


class ProviderError(DeliveryError):
    """The provider could not be reached or could not answer the query; the message says which
    and quotes the provider's own words where it gave any."""


class NoData(Exception):
    """The query ran but returned no value (no series, an empty answer, NaN or Inf)."""

    def __init__(self, reason):
        super(NoData, self).__init__(reason)
        self.reason = reason


class MetricProvider(object):
    """One kind of metrics backend; subclasses set ``type`` and implement ``run_query`` and
    ``is_online``.

    ``metric_interval`` is the Canary metric's ``interval`` (a duration such as ``1m``), for the
    providers that ask for a time window, as Flagger passes it to their constructors, and
    ``region`` is the template's ``spec.provider.region`` (CloudWatch), and ``read_object``
    reads one Kubernetes object, ``read_object(api_version, kind, namespace, name)`` returning a
    dict or None (Keptn); the factory sets them after construction.
    """

    type = None
    # How messages call the provider ("Cannot reach <label> at <address>").
    label = None
    # What the Secret named by secretRef must hold, checked before any query: a tuple of
    # alternatives, each a tuple of keys that must all be present. Empty: the keys that
    # credential_headers name, if any (see credential_keys).
    required_credentials = ()
    # Whether a template of this type must name a Secret (the service always needs a key); None:
    # when the provider sends credential_headers (see needs_secret).
    secret_required = None
    # The service's public address, used when the template gives none.
    default_address = None
    # When set, the template must give an address; the text says what one looks like.
    address_needed = None
    # Whether the Secret's username and password go as HTTP basic authentication.
    basic_auth = False
    # The HTTP headers that carry the Secret's keys: pairs of a header's name and its value, in
    # which ``{key}`` stands for the Secret's ``key`` (empty when the Secret lacks it).
    credential_headers = ()

    def __init__(self, address, credentials=None, insecure_skip_verify=False,
                 timeout=DEFAULT_TIMEOUT, headers=None):
        address = address or self.default_address
        if not address and self.address_needed:
            raise InvalidInput("the {0} provider needs spec.provider.address, {1}".format(
                self.type, self.address_needed))
        self.address = (address or "").rstrip("/")
        self.credentials = dict(credentials or {})
        self.insecure_skip_verify = bool(insecure_skip_verify)
        self.timeout = timeout or DEFAULT_TIMEOUT
        self.metric_interval = DEFAULT_METRIC_INTERVAL
        self.region = None
        self.read_object = None
        self.session = requests.Session()
        self.session.headers.update(headers or {})
        self.session.verify = not self.insecure_skip_verify
        self.session.headers.update(self.auth_headers())
        if self.basic_auth and self.credentials.get("username") and self.credentials.get("password"):
            self.session.auth = (self.credentials["username"], self.credentials["password"])
        self.configure()

    def auth_headers(self):
        """The HTTP headers that carry the Secret's credentials on every request."""
        keys = collections.defaultdict(str, self.credentials)
        return dict((header, value.format_map(keys)) for header, value in self.credential_headers)

    def configure(self):
        """A provider's own set-up once the common one is done: check the address, find the
        endpoints. Raises InvalidInput for a template the provider cannot use."""

    def run_query(self, query):
        """Run ``query``; return a float, or raise NoData or ProviderError."""
        raise NotImplementedError

    def is_online(self):
        """True when the provider answers; raises ProviderError when it does not."""
        raise NotImplementedError

    @classmethod
    def needs_secret(cls):
        """Whether a template of this type must name a Secret: ``secret_required`` when set, else
        whether the provider sends its key in headers (a service that always needs one)."""
        if cls.secret_required is not None:
            return cls.secret_required
        return bool(cls.credential_headers)

    @classmethod
    def credential_keys(cls):
        """``required_credentials``, or else one alternative: the keys ``credential_headers`` name."""
        if cls.required_credentials or not cls.credential_headers:
            return cls.required_credentials
        keys = []
        for _header, value in cls.credential_headers:
            for _text, field, _spec, _conversion in string.Formatter().parse(value):
                if field and field not in keys:
                    keys.append(field)
        return (tuple(keys),)

    @classmethod
    def missing_credentials(cls, credentials):
        """A sentence naming what the Secret lacks, or None when it is enough."""
        alternatives = cls.credential_keys()
        if not alternatives:
            return None
        present = set(k for k, v in (credentials or {}).items() if v)
        for keys in alternatives:
            if set(keys) <= present:
                return None
        return "it needs the key{0} {1}".format(
            "s" if len(alternatives) > 1 or len(alternatives[0]) > 1
            else "", " or ".join(" and ".join(keys) for keys in alternatives))

    def now(self):
        """Seconds since the epoch: the end of a query's time window."""
        return time.time()

    def interval_seconds(self):
        """``metric_interval`` in seconds (a float)."""
        text = self.metric_interval or DEFAULT_METRIC_INTERVAL
        if not INTERVAL_PART.sub("", text) == "" or not INTERVAL_PART.search(text):
            raise ProviderError("metric interval {0!r} is not a duration such as 30s or 1m".format(
                text))
        return sum(int(n) * INTERVAL_UNITS[unit] for n, unit in INTERVAL_PART.findall(text))

    def error(self, message):
        """A ProviderError that starts with the provider's name and address."""
        return ProviderError("{0} {1}".format(self.name, message))

    @property
    def name(self):
        label = self.label or self.type
        return "{0} at {1}".format(label, self.address) if self.address else label

    def request(self, method, url, **kwargs):
        """Send one HTTP request; an unreachable provider becomes a ProviderError."""
        kwargs.setdefault("timeout", self.timeout)
        try:
            return self.session.request(method, url, **kwargs)
        except requests.exceptions.Timeout:
            raise ProviderError("{0} did not answer within {1}s".format(self.name, self.timeout))
        except requests.exceptions.RequestException as exc:
            raise ProviderError("Cannot reach {0}: {1}".format(self.name, root_cause(exc)))

    def get_json(self, path, **params):
        """The JSON answer of a GET of ``path`` below the address."""
        return self.json_answer(self.request("GET", self.address + path, params=params or None))

    def json_answer(self, response, what="JSON"):
        """The decoded JSON body of a 2xx answer; anything else is a ProviderError quoting it."""
        body = json_or_none(response)
        if response.status_code // 100 != 2 or body is None:
            raise ProviderError("{0} answered HTTP {1}{2}{3}".format(
                self.name, response.status_code,
                "" if body is not None else " without {0}".format(what),
                snippet(response.text)))
        return body


def number(raw, what="the value"):
    """``raw`` (a number or a numeric string) as a float; NaN and Inf are no data."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ProviderError("{0} is {1!r}, expected a number".format(what, raw))
    try:
        value = float(raw)
    except ValueError:
        raise ProviderError("{0} is {1!r}, expected a number".format(what, raw))
    if math.isnan(value) or math.isinf(value):
        raise NoData("{0} is {1}".format(what, raw))
    return value


def json_or_none(response):
    try:
        return response.json()
    except ValueError:
        return None


def snippet(text, limit=200):
    """``: <first line of text>`` (shortened), or an empty string."""
    text = (text or "").strip()
    return (": " + text.splitlines()[0][:limit]) if text else ""


def root_cause(exc):
    # requests wraps urllib3 errors several levels deep; the innermost one says what happened.
    while True:
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else None
        inner = getattr(inner, "reason", inner)
        if not isinstance(inner, Exception) or inner is exc:
            return str(exc)
        exc = inner


def http_url_parts(address, provider_type):
    """``urlsplit`` of a provider's address, which must be an http:// or https:// URL."""
    parts = urlsplit(address or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(
            "spec.provider.address of a {0} template must be an http:// or https:// URL; "
            "got {1!r}".format(provider_type, address))
    return parts
