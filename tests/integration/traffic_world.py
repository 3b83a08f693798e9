"""What the module and routing tests read of a primary/canary pair, and the namespaces and
initialised apps they build."""
import json
import urllib.request
import uuid

from pdtest.apps import deploy_loadtester, deploy_podinfo
from pdtest.load import versions_through_traefik
from pdtest.manifests import write_canary
from pdtest.playbooks import run_playbook


def get(sandbox, namespace, kind, name):
    done = sandbox.kubectl("-n", namespace, "get", kind, name, "-o", "json", check=False)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout)


def resource_versions(sandbox, namespace):
    """{kind/name: resourceVersion} of everything the module tests touch in the namespace."""
    kinds = "deployments.apps,services,configmaps,secrets,traefikservices.traefik.io"
    out = json.loads(sandbox.kubectl("-n", namespace, "get", kinds, "-o", "json").stdout)
    versions = {}
    for item in out["items"]:
        key = "{0}/{1}".format(item["kind"], item["metadata"]["name"])
        versions[key] = item["metadata"]["resourceVersion"]
    legacy = sandbox.kubectl("-n", namespace, "get", "traefikservices.traefik.containo.us", "-o", "json",
                             check=False)
    if legacy.returncode == 0:
        for item in json.loads(legacy.stdout)["items"]:
            versions["v2-TraefikService/" + item["metadata"]["name"]] = item["metadata"]["resourceVersion"]
    return versions


def weights_of(obj):
    """{service: weight} of a TraefikService object."""
    return {s["name"]: s.get("weight") for s in obj["spec"]["weighted"]["services"]}


def scratch_namespace(sandbox, prefix):
    """Create a namespace for a group of tests; returns a function that deletes it."""
    name = "{0}-{1}".format(prefix, uuid.uuid4().hex[:6])
    sandbox.kubectl("create", "namespace", name)
    return name, lambda: sandbox.kubectl("delete", "namespace", name, "--wait=false", check=False)


def initialised_app(sandbox, directory, prefix, canary_of, loadtester=False):
    """For a module fixture: podinfo 4.0.5 in a namespace of its own (with Flagger's load tester
    when asked), initialised by the role as the target of ``canary_of(namespace)``; yields
    ``(namespace, canary_file)`` and deletes the namespace afterwards."""
    namespace, delete_namespace = scratch_namespace(sandbox, prefix)
    try:
        deploy_podinfo(sandbox, namespace)
        if loadtester:
            deploy_loadtester(sandbox, namespace)
        canary_file = write_canary(directory, canary_of(namespace))
        first = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})
        assert first.returncode == 0, first.stdout[-4000:]
        yield namespace, canary_file
    finally:
        delete_namespace()


def assert_failed_without_changes(sandbox, namespace, run, expected):
    """Run the module (``run()`` returns ansible's results), assert the task failed with a message
    containing every ``expected`` fragment, and that no object in the namespace was written."""
    before = resource_versions(sandbox, namespace)
    rc, results = run()
    result = results[0]
    assert rc != 0 and result.get("failed"), result
    for fragment in expected:
        assert fragment in result["msg"], (fragment, result["msg"])
    assert resource_versions(sandbox, namespace) == before
    return result


def canary_status(sandbox, namespace, name="podinfo"):
    """The Canary's status read straight from the API (quicker than a kubectl run); {} when it
    cannot be read."""
    url = "{0}/apis/flagger.app/v1beta1/namespaces/{1}/canaries/{2}".format(sandbox.api_url, namespace, name)
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return json.loads(resp.read()).get("status") or {}
    except OSError:
        return {}


def release_watched(sandbox, canary_file, watcher):
    """Run a release with ``watcher`` (a thread with ``stop()``) sending traffic all along;
    returns the run's result and the watcher."""
    watcher.start()
    try:
        result = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})
    finally:
        watcher.stop()
    return result, watcher


def primary_version(sandbox, namespace):
    """The one version that answers users through Traefik when no release runs."""
    (version,) = versions_through_traefik(sandbox, namespace, 10)
    return version
