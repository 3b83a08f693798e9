"""A whole release run by ansible-runner the way AWX runs a job template.

AWX hands ansible-runner a private data directory: the project (docs/awx/project, the wrapper
playbook a job template selects), an inventory, the extra variables (survey answers and AWX's own
awx_* variables) and the credentials as injected environment: the Kubernetes Bearer Token
credential as K8S_AUTH_*, the Prometheus credential type of docs/awx as PROMETHEUS_URL and
PROMETHEUS_TOKEN. No kubeconfig, no terminal on stdin. The job's status and the set_stats artifact
a workflow reads come from ansible-runner's own artifacts and events.
"""
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from pdtest.apps import deploy_podinfo, set_image
from pdtest.checkout import ROOT, VENV_BIN
from pdtest.load import Load, versions_through_traefik
from pdtest.manifests import fast_canary
from pdtest.playbooks import ansible_env
from pdtest.procs import tied
from pdtest.sandbox import get_json
from pdtest.timeouts import guard

AWX = ROOT / "docs" / "awx"
JOB_ID = "4242"
PROMETHEUS_TOKEN = "prom-token-9f3c1e"


def token_accepted(server, token, ca_file):
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None
    request = urllib.request.Request(server.rstrip("/") + "/api/v1/namespaces",
                                     headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(request, context=context, timeout=10):
            return True
    except urllib.error.HTTPError:
        return False


def bearer_token_credential(sandbox, namespace):
    """What AWX's "OpenShift or Kubernetes API Bearer Token" credential injects.

    The token must be one no other output could contain by chance, so that finding it in the job
    output means it leaked: a fresh one where the API server takes any token, else the token of a
    service account, as an AWX administrator would create one for the credential.
    """
    cluster = yaml.safe_load(Path(sandbox.kubeconfig).read_text())["clusters"][0]["cluster"]
    ca_file = cluster.get("certificate-authority")
    token = "awx-credential-" + uuid.uuid4().hex
    if not token_accepted(cluster["server"], token, ca_file):
        sandbox.kubectl("-n", namespace, "create", "serviceaccount", "awx")
        sandbox.kubectl("create", "clusterrolebinding", f"awx-{namespace}", "--clusterrole=cluster-admin",
                        f"--serviceaccount={namespace}:awx")
        token = sandbox.kubectl("-n", namespace, "create", "token", "awx").stdout.strip()
        assert token_accepted(cluster["server"], token, ca_file), "the service account token is refused"
    env = {"K8S_AUTH_HOST": cluster["server"], "K8S_AUTH_API_KEY": token,
           "K8S_AUTH_VERIFY_SSL": "True" if ca_file else "False"}
    if ca_file:
        env["K8S_AUTH_SSL_CA_CERT"] = ca_file
    return env


def prometheus_credential(sandbox):
    """What the custom credential type in docs/awx/credential-type-prometheus.yml injects."""
    injectors = yaml.safe_load((AWX / "credential-type-prometheus.yml").read_text())["injectors"]["env"]
    inputs = {"url": sandbox.prometheus_url, "token": PROMETHEUS_TOKEN}
    return {name: value.replace("{{ url }}", inputs["url"]).replace("{{ token }}", inputs["token"])
            for name, value in injectors.items()}


def galaxy(*args):
    done = subprocess.run([str(VENV_BIN / "ansible-galaxy"), "collection", *args], capture_output=True,
                          text=True, timeout=guard(300), check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def requirements_collections(tmp_path_factory):
    """The collections as AWX's project update installs them for a job: the artifact Galaxy would
    serve, built from this checkout, installed beside kubernetes.core (the copy the `ansible`
    package carries, since Galaxy is not reachable here) into the job's collections path. The jobs
    then run the installed artifact, not the checkout, so whatever galaxy.yml's build_ignore
    leaves out and a job needs fails here."""
    base = tmp_path_factory.mktemp("awx-collections")
    wanted = yaml.safe_load((AWX / "project" / "collections" / "requirements.yml").read_text())["collections"]
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    [requirement] = [c for c in wanted if c["name"] == "progressive.delivery"]
    assert version in SpecifierSet(requirement["version"]), (version, requirement)
    galaxy("build", "--output-path", str(base / "dist"), str(ROOT))
    [tarball] = (base / "dist").glob("progressive-delivery-*.tar.gz")
    import ansible_collections.kubernetes.core as kubernetes_core
    installed = base / "requirements_collections"
    galaxy("install", "--offline", "-p", str(installed), list(kubernetes_core.__path__)[0])
    galaxy("install", "--offline", "-p", str(installed), str(tarball))
    manifest = json.loads((installed / "ansible_collections/progressive/delivery/MANIFEST.json").read_text())
    assert manifest["collection_info"]["version"] == version
    assert not (installed / "ansible_collections/progressive/delivery/tests/integration").exists()
    return installed


def job_environment(sandbox, namespace, collections):
    """The job's environment: the credentials, no kubeconfig; the collections the project update
    installed (and no path to the checkout)."""
    env = {key: value for key, value in ansible_env(sandbox).items()
           if key != "KUBECONFIG" and not key.startswith(("K8S_AUTH_", "PROMETHEUS_"))}
    env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    env.update(bearer_token_credential(sandbox, namespace))
    env.update(prometheus_credential(sandbox))
    env["JOB_ID"] = JOB_ID
    env["PATH"] = str(VENV_BIN) + os.pathsep + env.get("PATH", "")
    return env


def private_data_dir(tmp_path, namespace, canary):
    pdd = tmp_path / "job"
    shutil.copytree(AWX / "project", pdd / "project")
    (pdd / "project" / "canaries" / "podinfo.yaml").write_text(yaml.safe_dump(canary))
    (pdd / "inventory").mkdir()
    (pdd / "inventory" / "hosts").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    (pdd / "env").mkdir()
    (pdd / "env" / "extravars").write_text(yaml.safe_dump({
        "canary_file": "canaries/podinfo.yaml",
        "canary_on_interrupted": "resume", "canary_confirm_timeout": 600, "canary_lock_wait": 0,
        "awx_job_id": int(JOB_ID), "awx_job_template_name": "podinfo canary",
    }))
    return pdd


def run_job(pdd, env, ident, timeout=300):
    """`ansible-runner run` as AWX's dispatcher starts it: no stdin, a session of its own."""
    cmd = [str(VENV_BIN / "ansible-runner"), "run", str(pdd), "-p", "canary.yml", "--ident", ident]
    proc = subprocess.Popen(tied(cmd), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        _out, err = proc.communicate(timeout=guard(timeout))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    artifacts = pdd / "artifacts" / ident
    assert (artifacts / "status").exists(), err.decode()[-3000:]
    events = [json.loads(path.read_text()) for path in sorted(
        (artifacts / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-", 1)[0]))]
    return (artifacts / "status").read_text().strip(), events, (artifacts / "stdout").read_text()


def workflow_artifact(events):
    stats = [e for e in events if e.get("event") == "playbook_on_stats"]
    assert len(stats) == 1, [e.get("event") for e in events][-10:]
    return stats[0]["event_data"].get("artifact_data", {})


@pytest.fixture
def job(sandbox, namespace, tmp_path, requirements_collections):
    deploy_podinfo(sandbox, namespace)
    canary = fast_canary(namespace, max_weight=30, step_weight=10)
    pdd = private_data_dir(tmp_path, namespace, canary)
    env = job_environment(sandbox, namespace, requirements_collections)
    status, events, stdout = run_job(pdd, env, "1-initialise")
    assert status == "successful", stdout[-4000:]
    return pdd, env


def test_awx_job_releases_and_reports_phase_weight_revision_and_duration(sandbox, namespace, job):
    pdd, env = job
    set_image(sandbox, namespace, "4.0.6")
    load = Load(sandbox, namespace, rps=30)
    try:
        started = time.monotonic()
        status, events, stdout = run_job(pdd, env, "2-release")
        wall = time.monotonic() - started
    finally:
        load.stop()

    assert status == "successful", stdout[-4000:]
    report = workflow_artifact(events)["canary"]
    canary = get_json(sandbox, namespace, "canary", "podinfo")
    assert report["phase"] == "Succeeded" == canary["status"]["phase"]
    assert int(report["weight"]) == 30  # the last step the analysis reached
    assert report["revision"] == canary["status"]["lastPromotedSpec"]
    assert report["name"] == "podinfo" and report["namespace"] == namespace
    assert 0 < float(report["duration_seconds"]) <= wall
    assert versions_through_traefik(sandbox, namespace, 100) == {"4.0.6": 100}
    # The role ran from the installed artifact.
    role_paths = {e["event_data"]["task_path"].split(":")[0] for e in events
                  if e["event_data"].get("role") and e["event_data"].get("task_path")}
    assert role_paths and all(path.startswith(env["ANSIBLE_COLLECTIONS_PATH"]) for path in role_paths), role_paths
    # The release lock was held in the name of the AWX job.
    holders = [e["event_data"]["res"].get("holder") for e in events if e.get("event") == "runner_on_ok"
               and e["event_data"].get("task_action") == "progressive.delivery.canary_lock"]
    assert holders and all(h.startswith(f"awx-job-{JOB_ID}") for h in holders if h), holders
    # Credentials reach the modules but never the job output.
    for secret in (PROMETHEUS_TOKEN, env["K8S_AUTH_API_KEY"]):
        assert secret not in stdout
        assert not [e["uuid"] for e in events if secret in json.dumps(e)]


def test_awx_job_with_nothing_new_reports_unchanged(sandbox, namespace, job):
    pdd, env = job

    status, events, stdout = run_job(pdd, env, "2-nothing-new")

    assert status == "successful", stdout[-4000:]
    report = workflow_artifact(events)["canary"]
    assert report["phase"] == "Unchanged" and int(report["weight"]) == 0
    assert report["revision"] == get_json(sandbox, namespace, "canary", "podinfo")["status"]["lastPromotedSpec"]
