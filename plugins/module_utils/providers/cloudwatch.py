# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Amazon CloudWatch, as Flagger asks it: ``GetMetricData`` over the last ten metric intervals.

The query is Flagger's: a JSON list of ``MetricDataQuery`` objects; the value is the first value
of the first result. ``spec.provider.region`` is required, as in Flagger. Flagger uses the AWS
SDK; we call the documented Query API (``Action=GetMetricData``, version 2010-08-01, XML answer)
and sign it with AWS Signature Version 4 ourselves, so no SDK is needed. The keys come from the
Secret (``aws_access_key_id``, ``aws_secret_access_key``, optionally ``aws_session_token``; ours)
or else from the ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN``
environment variables; other AWS credential sources (profiles, instance roles, IRSA) are not
read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import hmac
import json
import os
from xml.etree import ElementTree

from ansible_collections.progressive.delivery.plugins.module_utils.errors import InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import MetricProvider, NoData, number

try:
    from urllib.parse import quote, urlsplit
except ImportError:  # pragma: no cover
    from urllib import quote  # type: ignore
    from urlparse import urlsplit  # type: ignore

SERVICE = "monitoring"
API_VERSION = "2010-08-01"
WINDOW_INTERVALS = 10
MAX_DATAPOINTS = 20
ENV_KEYS = (("aws_access_key_id", "AWS_ACCESS_KEY_ID"),
            ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
            ("aws_session_token", "AWS_SESSION_TOKEN"))


def flatten(value, prefix, into):
    """AWS Query protocol parameters of ``value``: lists as ``.member.N``, maps as ``.Field``."""
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(item, "{0}.{1}".format(prefix, key) if prefix else key, into)
    elif isinstance(value, list):
        for index, item in enumerate(value, 1):
            flatten(item, "{0}.member.{1}".format(prefix, index), into)
    elif isinstance(value, bool):
        into[prefix] = "true" if value else "false"
    else:
        into[prefix] = str(value)
    return into


def _sign(key, text):
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def sigv4_headers(method, service, access_key, secret_key, session_token, region, url, body,
                  when):
    """The headers that sign a form request of ``body`` to ``url`` (AWS Signature Version 4)."""
    parts = urlsplit(url)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    day = when.strftime("%Y%m%d")
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8",
               "host": parts.netloc, "x-amz-date": amz_date}
    if session_token:
        headers["x-amz-security-token"] = session_token
    signed = ";".join(sorted(headers))
    canonical = "\n".join([
        method, quote(parts.path or "/", safe="/~"), parts.query,
        "".join("{0}:{1}\n".format(name, headers[name].strip()) for name in sorted(headers)),
        signed, hashlib.sha256(body.encode("utf-8")).hexdigest()])
    scope = "{0}/{1}/{2}/aws4_request".format(day, region, service)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = _sign(_sign(_sign(_sign(("AWS4" + secret_key).encode("utf-8"), day), region),
                      service), "aws4_request")
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        "AWS4-HMAC-SHA256 Credential={0}/{1}, SignedHeaders={2}, Signature={3}".format(
            access_key, scope, signed, signature))
    return headers


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def parse_get_metric_data(text):
    """The values of the first MetricDataResult of a GetMetricData XML answer (pure)."""
    root = ElementTree.fromstring(text)
    for element in root.iter():
        if _local(element.tag) == "MetricDataResults":
            for result in element:
                for child in result:
                    if _local(child.tag) == "Values":
                        return [member.text for member in child]
                return []
    return []


def _error_message(text):
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return (text or "").strip()[:200]
    found = dict((_local(e.tag), e.text) for e in root.iter() if _local(e.tag) in ("Code", "Message"))
    return "{0}: {1}".format(found.get("Code", "error"), found.get("Message", ""))


class CloudWatchProvider(MetricProvider):
    type = "cloudwatch"
    label = "CloudWatch"
    required_credentials = (("aws_access_key_id", "aws_secret_access_key"),)

    def _keys(self):
        keys = dict((key, self.credentials.get(key) or os.environ.get(env))
                    for key, env in ENV_KEYS)
        if not (keys["aws_access_key_id"] and keys["aws_secret_access_key"]):
            raise InvalidInput("the cloudwatch provider needs AWS keys: aws_access_key_id and "
                               "aws_secret_access_key in the secretRef Secret, or the "
                               "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables")
        return keys

    def _endpoint(self):
        if not self.region:
            raise InvalidInput("the cloudwatch provider needs spec.provider.region, such as "
                               "us-east-1")
        return self.address or "https://monitoring.{0}.amazonaws.com".format(self.region)

    def _call(self, params):
        keys = self._keys()
        url = self._endpoint() + "/"
        form = dict(params, Action="GetMetricData", Version=API_VERSION)
        body = "&".join("{0}={1}".format(quote(k, safe="-_.~"), quote(v, safe="-_.~"))
                        for k, v in sorted(form.items()))
        headers = sigv4_headers("POST", SERVICE, keys["aws_access_key_id"],
                                keys["aws_secret_access_key"], keys["aws_session_token"],
                                self.region, url, body, _utc(self.now()))
        return self.request("POST", url, data=body.encode("utf-8"), headers=headers)

    def run_query(self, query):
        try:
            queries = json.loads(query)
        except ValueError as exc:
            raise InvalidInput("a cloudwatch query must be a JSON list of MetricDataQuery "
                               "objects: {0}".format(exc))
        if not isinstance(queries, list) or not all(isinstance(q, dict) for q in queries):
            raise InvalidInput("a cloudwatch query must be a JSON list of MetricDataQuery objects")
        end = int(self.now())
        start = end - int(WINDOW_INTERVALS * self.interval_seconds())
        params = flatten(queries, "MetricDataQueries", {})
        params.update(StartTime=_iso(start), EndTime=_iso(end), MaxDatapoints=str(MAX_DATAPOINTS))
        response = self._call(params)
        if response.status_code // 100 != 2:
            raise self.error("answered HTTP {0}: {1}".format(response.status_code,
                                                             _error_message(response.text)))
        try:
            values = parse_get_metric_data(response.text)
        except ElementTree.ParseError as exc:
            raise self.error("answered with XML that cannot be read: {0}".format(exc))
        if not values:
            raise NoData("CloudWatch returned no values for the first query")
        return number(values[0], "CloudWatch's first value")

    def is_online(self):
        # As Flagger: an empty request the service refuses as invalid (400) proves it answers
        # and accepted the signature; 403 would be a rejected signature.
        response = self._call({"StartTime": _iso(0), "EndTime": _iso(0)})
        if response.status_code not in (200, 400):
            raise self.error("answered HTTP {0}: {1}".format(response.status_code,
                                                             _error_message(response.text)))
        return True


def _utc(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)


def _iso(epoch):
    return _utc(epoch).strftime("%Y-%m-%dT%H:%M:%SZ")
