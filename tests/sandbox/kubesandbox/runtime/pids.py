"""PID files for every process the sandbox starts, so `down` can stop them even if the daemon died.

Each file holds the PID and the process start time: a PID recycled by an unrelated process after a
crash is then never signalled.
"""
import os
import signal
import time
from pathlib import Path


def _start_time(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The command name (field 2) may contain spaces; fields after its closing paren are fixed.
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def start_time(pid):
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or None
    when it is gone: with the PID it names one process, even after the PID is reused."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


class PidDir:
    def __init__(self, path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def _file(self, name):
        return self.path / f"{name}.pid"

    def record(self, name, pid):
        self._file(name).write_text(f"{pid} {_start_time(pid) or ''}\n")

    def forget(self, name):
        try:
            self._file(name).unlink()
        except FileNotFoundError:
            pass

    def entries(self):
        """(name, pid) for every recorded process that is still the one we started."""
        found = []
        for f in sorted(self.path.glob("*.pid")):
            try:
                parts = f.read_text().split()
                pid = int(parts[0])
            except (OSError, ValueError, IndexError):
                continue
            recorded = parts[1] if len(parts) > 1 else None
            if alive(pid) and (recorded is None or _start_time(pid) == recorded):
                found.append((f.name[:-4], pid))
        return found

    def clear(self):
        for f in self.path.glob("*.pid"):
            f.unlink(missing_ok=True)


def signal_group(pid, sig):
    """Children are started in their own session, so the group also holds what they spawned."""
    for target in (lambda: os.killpg(pid, sig), lambda: os.kill(pid, sig)):
        try:
            target()
            return
        except ProcessLookupError:
            continue
        except PermissionError:
            continue


def terminate_all(pids, grace=5.0):
    for pid in pids:
        signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    for pid in pids:
        if alive(pid):
            signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]
