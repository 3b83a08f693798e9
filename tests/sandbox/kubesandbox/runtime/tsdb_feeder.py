"""Feeds InfluxDB and Graphite from Traefik's own request counters.

Every second it scrapes Traefik's Prometheus endpoint and, for each service that answered
requests since the last scrape, writes that second's requests, 5xx answers and summed duration:

- InfluxDB: measurement ``traefik_service_requests``, tag ``service`` (Traefik's service name
  without ``@kubernetescrd``, e.g. ``test-podinfo-canary-80``), integer fields ``requests`` and
  ``errors``, float field ``duration_seconds``, one point per second;
- Graphite: ``traefik.service.<service>.requests``, ``.errors`` and ``.duration_seconds``.

The first scrape only sets the baseline. It runs until it is signalled.
"""
import argparse
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from collections import defaultdict

SAMPLE = re.compile(r'^(traefik_service_(?:requests_total|request_duration_seconds_sum))\{(.*)\}\s+(\S+)')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{service: {"requests": n, "errors": n, "duration_seconds": s}} of Traefik's counters."""
    totals = defaultdict(lambda: {"requests": 0.0, "errors": 0.0, "duration_seconds": 0.0})
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if not match:
            continue
        labels = dict(LABEL.findall(match.group(2)))
        service = labels.get("service", "").split("@", 1)[0]
        if not service:
            continue
        value = float(match.group(3))
        if match.group(1) == "traefik_service_requests_total":
            totals[service]["requests"] += value
            if labels.get("code", "").startswith("5"):
                totals[service]["errors"] += value
        else:
            totals[service]["duration_seconds"] += value
    return dict(totals)


def deltas(previous, current):
    """What each service did between two scrapes; a counter that went down (restart) counts from 0."""
    changes = {}
    for service, now in current.items():
        before = previous.get(service, {"requests": 0.0, "errors": 0.0, "duration_seconds": 0.0})
        if now["requests"] < before["requests"]:
            before = {"requests": 0.0, "errors": 0.0, "duration_seconds": 0.0}
        requests = now["requests"] - before["requests"]
        if requests > 0:
            changes[service] = {"requests": int(requests), "errors": int(now["errors"] - before["errors"]),
                                "duration_seconds": now["duration_seconds"] - before["duration_seconds"]}
    return changes


class Carbon:
    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.address = (host, int(port))
        self.sock = None

    def send(self, lines):
        for _ in range(2):
            try:
                if self.sock is None:
                    self.sock = socket.create_connection(self.address, timeout=2)
                self.sock.sendall("".join(lines).encode())
                return
            except OSError as exc:
                print(f"carbon: {exc}", flush=True)
                if self.sock is not None:
                    self.sock.close()
                self.sock = None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--traefik-metrics", required=True)
    parser.add_argument("--influxdb", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--carbon", required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    auth = "Basic " + b64encode(f"{args.user}:{os.environ['INFLUXDB_PASSWORD']}".encode()).decode()
    write_url = f"{args.influxdb}/write?" + urllib.parse.urlencode({"db": args.database, "precision": "s"})
    carbon = Carbon(args.carbon)
    previous = None
    while True:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(args.traefik_metrics, timeout=2) as resp:
                current = parse(resp.read().decode())
        except OSError as exc:
            print(f"traefik: {exc}", flush=True)
            current = None
        if current is not None:
            if previous is not None:
                stamp = int(time.time())
                changes = deltas(previous, current)
                if changes:
                    points = [f"traefik_service_requests,service={svc} requests={c['requests']}i,"
                              f"errors={c['errors']}i,duration_seconds={c['duration_seconds']} {stamp}"
                              for svc, c in changes.items()]
                    req = urllib.request.Request(write_url, data="\n".join(points).encode(), method="POST",
                                                 headers={"Authorization": auth})
                    try:
                        urllib.request.urlopen(req, timeout=2).close()
                    except (OSError, urllib.error.HTTPError) as exc:
                        print(f"influxdb: {exc}", flush=True)
                    carbon.send([f"traefik.service.{svc}.{field} {value} {stamp}\n"
                                 for svc, c in changes.items() for field, value in c.items()])
            previous = current
        time.sleep(max(0.0, args.interval - (time.monotonic() - started)))


if __name__ == "__main__":
    main()
