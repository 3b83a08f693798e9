"""Load through Traefik: steady background load with real `hey`, and counted requests."""
import os
import signal
import subprocess
import threading
from collections import Counter

import requests

from .manifests import host_for
from .procs import tied


def hey_command(url, host, rps, seconds):
    """`hey` sending about ``rps`` requests per second to ``url`` as ``host`` for ``seconds`` (two
    workers, each at half the rate), tied to the caller (procs.tied)."""
    return tied(["hey", "-z", "{0}s".format(seconds), "-q", str(max(1, rps // 2)), "-c", "2", "-host", host, url])


class Load:
    """Steady load through Traefik for ``namespace``'s host, in a session of its own, stopped by PID.

    ``start`` starts the process (default: ``subprocess.Popen``); a caller that keeps a registry of
    its children passes its own, taking the same arguments.
    """

    def __init__(self, sandbox, namespace, rps=20, seconds=300, path="/", start=subprocess.Popen):
        self.proc = start(hey_command(sandbox.traefik_url + path, host_for(namespace), rps, seconds),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def versions_through_traefik(sandbox, namespace, n=500, threads=1, timeout=5):
    """How many of ``n`` requests through Traefik each version answered, sent from ``threads``
    sessions; an error answer counts as ``HTTP <status>``, a failed request as ``error <exception>``."""
    counts = Counter()
    lock = threading.Lock()

    def send(count):
        seen = Counter()
        with requests.Session() as session:
            for _request in range(count):
                try:
                    resp = session.get(sandbox.traefik_url + "/version", headers={"Host": host_for(namespace)},
                                       timeout=timeout)
                except requests.RequestException as exc:
                    seen[f"error {exc.__class__.__name__}"] += 1
                    continue
                seen[resp.json().get("version") if resp.status_code == 200 else f"HTTP {resp.status_code}"] += 1
        with lock:
            counts.update(seen)

    shares = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]
    if threads == 1:
        send(n)
        return counts
    workers = [threading.Thread(target=send, args=(share,)) for share in shares]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return counts
