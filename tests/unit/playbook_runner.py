"""Run one module task with ansible-playbook, without a cluster, and read back its result.

The checkout is exposed as ``ansible_collections/progressive/delivery`` in a temporary
directory, as tests/unit/conftest.py does for imports.
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def expose_collection():
    base = Path(tempfile.mkdtemp(prefix="pd-modules-"))
    link = base / "ansible_collections" / "progressive" / "delivery"
    link.parent.mkdir(parents=True)
    link.symlink_to(ROOT)
    return base, link


def run_module(collections_path, tmp_path, module, args, check=False, extra_env=None):
    """Return (CompletedProcess of ``ansible-playbook -vvv``, the registered result)."""
    out = tmp_path / "result.json"
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "task under test", module: args, "register": "result", "ignore_errors": True},
        {"name": "save", "ansible.builtin.copy": {"content": "{{ result | to_json }}",
                                                  "dest": str(out)}, "check_mode": False},
    ]}]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections_path),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    env.update(extra_env or {})
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "-vvv"]
    if check:
        cmd.append("--check")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    return done, json.loads(out.read_text())
