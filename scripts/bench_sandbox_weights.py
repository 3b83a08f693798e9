#!/usr/bin/env python3
"""How long a TraefikService weight change takes to go live in the sandbox's real Traefik.

Each round writes new weights through the API (merge patch, as a module would) and polls Traefik's
API until it serves them. Prints the latency distribution. Uses the sandbox named by SANDBOX_ENV
(an env file) or starts a temporary one.

    .venv/bin/python scripts/bench_sandbox_weights.py --rounds 50
"""
import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from pdtest.apps import create_namespace, deploy_pair
from pdtest.sandbox import Sandbox, http, start_sandbox, stop_sandbox

NS = "bench-weights"


def set_weights(sb, canary):
    body = {"spec": {"weighted": {"services": [
        {"name": "podinfo-primary", "port": 80, "weight": 100 - canary},
        {"name": "podinfo-canary", "port": 80, "weight": canary},
    ]}}}
    url = f"{sb.api_url}/apis/traefik.io/v1alpha1/namespaces/{NS}/traefikservices/podinfo"
    # No Authorization header: the sandbox's API proxy sends it on as the admin (any other token
    # would go to kube-apiserver as it is, and an unknown one is refused).
    status, data = http("PATCH", url, json.dumps(body).encode(),
                        headers={"Content-Type": "application/merge-patch+json"})
    if status != 200:
        raise RuntimeError(f"patch failed: {status} {data[:200]!r}")


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(sb, rounds):
    create_namespace(sb, NS)
    deploy_pair(sb, NS, primary_version="1.0.0", canary_version="2.0.0",
                weights={"podinfo-primary": 100, "podinfo-canary": 0})
    latencies = []
    for i in range(rounds):
        canary = 5 * (i % 19 + 1)
        started = time.monotonic()
        set_weights(sb, canary)
        sb.wait_for_weights(NS, "podinfo", {"podinfo-primary": 100 - canary, "podinfo-canary": canary},
                            timeout=10, interval=0.005)
        latencies.append(time.monotonic() - started)
    ms = [v * 1000 for v in latencies]
    print(f"weight change -> live in Traefik, {rounds} rounds (ms):")
    print(f"  min {min(ms):.0f}  median {statistics.median(ms):.0f}  p90 {percentile(ms, 0.9):.0f}  "
          f"p99 {percentile(ms, 0.99):.0f}  max {max(ms):.0f}  mean {statistics.mean(ms):.0f}")
    sb.kubectl("delete", "namespace", NS, "--wait=false", check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    if os.environ.get("SANDBOX_ENV"):
        run(Sandbox(os.environ["SANDBOX_ENV"]), args.rounds)
        return
    tmpdir = Path(tempfile.mkdtemp(prefix="kubesandbox-bench-"))
    try:
        run(Sandbox(start_sandbox(tmpdir)), args.rounds)
    finally:
        stop_sandbox(tmpdir)
        shutil.rmtree(tmpdir, ignore_errors=True)


if __name__ == "__main__":
    main()
