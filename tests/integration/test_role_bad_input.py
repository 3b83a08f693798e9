"""Bad input to the canary role is refused with a message naming the field and its allowed values,
before anything in the cluster changes.

Each case runs the real playbook in a namespace of its own that holds the article's podinfo
Deployment (at 0 replicas: no case may get far enough to need pods) and its IngressRoute. The
cases run a few at a time to keep the file fast on a busy machine; as every case has its own
namespace, a change to the cluster is still attributed to the case that made it.
"""
import copy
import json
import re
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from pdtest.apps import install_crds
from pdtest.checkout import ROOT, VENV_BIN
from pdtest.manifests import example_docs, fast_canary
from pdtest.playbooks import ansible_env, run_playbook
from pdtest.procs import tied

from cluster_snapshot import api_kinds, diff, settled_snapshot, snapshot

SHARDS = 3


def spec_change(change):
    """A case built from the fast Canary of its namespace, changed by ``change(canary)``."""
    def build(namespace, tmp_path):
        canary = fast_canary(namespace)
        change(canary)
        path = tmp_path / "canary-{0}.yaml".format(namespace)
        path.write_text(yaml.safe_dump(canary))
        return {"canary_file": str(path)}
    return build


def analysis(**fields):
    def change(canary):
        for key, value in fields.items():
            if value is None:
                canary["spec"]["analysis"].pop(key, None)
            else:
                canary["spec"]["analysis"][key] = value
    return spec_change(change)


def spec(path, value):
    """Set (or with value None, remove) spec field ``path`` ('a.b.c')."""
    def change(canary):
        node = canary["spec"]
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[key]
        if value is None:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = value
    return spec_change(change)


def metric(**fields):
    def change(canary):
        canary["spec"]["analysis"]["metrics"][0].update(fields)
        for key in [k for k, v in fields.items() if v is None]:
            canary["spec"]["analysis"]["metrics"][0].pop(key)
    return spec_change(change)


def webhook(**fields):
    def change(canary):
        hook = {"name": "acceptance", "type": "pre-rollout", "url": "http://flagger-loadtester.x/",
                "timeout": "5s", "metadata": {"type": "bash", "cmd": "true"}}
        hook.update(fields)
        canary["spec"]["analysis"]["webhooks"] = [hook]
    return spec_change(change)


def role_vars(**extra):
    """Role variables next to (or instead of) a valid canary_file."""
    def build(namespace, tmp_path):
        values = dict(spec_change(lambda c: None)(namespace, tmp_path))
        for key, value in extra.items():
            if value is None:
                values.pop(key, None)
            else:
                values[key] = value.format(ns=namespace) if isinstance(value, str) else value
        return values
    return build


def raw_file(text):
    def build(namespace, tmp_path):
        path = tmp_path / "raw-{0}.yaml".format(namespace)
        path.write_text(text.format(ns=namespace))
        return {"canary_file": str(path)}
    return build


# (id, how to build the role's extra vars, fragments every one of which the error must contain;
#  a tuple of fragments means "any one of these")
CASES = [
    ("max-weight-below-step-weight", analysis(maxWeight=5, stepWeight=10),
     ["spec.analysis.maxWeight", "spec.analysis.stepWeight", "greater than or equal"]),
    ("step-weights-not-increasing", analysis(stepWeight=None, maxWeight=None, stepWeights=[10, 5, 20]),
     ["spec.analysis.stepWeights", "increasing"]),
    ("step-weights-above-100", analysis(stepWeight=None, maxWeight=None, stepWeights=[50, 150]),
     ["spec.analysis.stepWeights", "between 1 and 100"]),
    ("step-weight-above-100", analysis(stepWeight=150, maxWeight=None),
     ["spec.analysis.stepWeight", "between 1 and 100"]),
    ("no-step-weights-at-all", analysis(stepWeight=None, maxWeight=None),
     ["spec.analysis.stepWeight", "stepWeights"]),
    ("negative-interval", analysis(interval="-5s"),
     ["spec.analysis.interval", "'-5s'", ("negative", "greater than zero")]),
    ("malformed-interval", analysis(interval="1 minute"),
     ["spec.analysis.interval", "'1 minute'", "30s"]),
    ("threshold-zero", analysis(threshold=0),
     ["spec.analysis.threshold", "between 1 and"]),
    ("unknown-webhook-type", webhook(type="pre-flight"),
     ["spec.analysis.webhooks[0].type", "'pre-flight'", "confirm-rollout", "pre-rollout", "post-rollout"]),
    ("webhook-url-not-http", webhook(url="ftp://loadtester/"),
     ["spec.analysis.webhooks[0].url", "http://", "https://"]),
    ("missing-target-ref", spec("targetRef", None),
     ["spec.targetRef", "required"]),
    ("target-ref-kind-statefulset", spec("targetRef.kind", "StatefulSet"),
     ["spec.targetRef.kind", "Deployment", "'StatefulSet'"]),
    ("target-deployment-missing", spec("targetRef.name", "nosuchapp"),
     ["spec.targetRef", "nosuchapp", ("not found", "does not exist")]),
    ("service-port-zero", spec("service.port", 0),
     ["spec.service.port", "1", "65535", "0"]),
    ("service-port-above-65535", spec("service.port", 70000),
     ["spec.service.port", "65535", "70000"]),
    ("service-target-port-malformed", spec("service.targetPort", "Web_Port!"),
     ["spec.service.targetPort", "1-65535", "Web_Port!"]),
    ("progress-deadline-zero", spec("progressDeadlineSeconds", 0),
     ["spec.progressDeadlineSeconds", "between 1 and"]),
    ("provider-not-traefik", spec("provider", "istio"),
     ["spec.provider", "traefik", "'istio'"]),
    ("template-ref-missing", metric(name="error-rate", templateRef={"name": "nosuchtemplate"},
                                    thresholdRange={"max": 1}),
     ["spec.analysis.metrics[0].templateRef", "nosuchtemplate", ("not found", "does not exist")]),
    ("unknown-builtin-metric", metric(name="request-rate"),
     ["spec.analysis.metrics[0].name", "request-success-rate", "request-duration"]),
    ("threshold-range-min-above-max", metric(thresholdRange={"min": 99, "max": 50}),
     ["spec.analysis.metrics[0].thresholdRange", "min", "max"]),
    ("metric-interval-malformed", metric(interval="10 seconds"),
     ["spec.analysis.metrics[0].interval", "'10 seconds'", "30s"]),
    ("alert-severity-unknown",
     spec("analysis.alerts", [{"name": "on-call", "severity": "critical", "providerRef": {"name": "slack"}}]),
     ["spec.analysis.alerts[0].severity", "info", "warn", "error"]),
    ("wrong-api-version", raw_file(
        "apiVersion: flagger.app/v1alpha3\nkind: Canary\nmetadata: {{name: podinfo, namespace: {ns}}}\n"
        "spec: {{targetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}, service: {{port: 80}},"
        " analysis: {{interval: 5s, threshold: 2, maxWeight: 20, stepWeight: 10}}}}\n"),
     ["apiVersion", "flagger.app/v1beta1", "v1alpha3"]),
    ("not-a-canary", raw_file(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: podinfo, namespace: {ns}}}\nspec: {{}}\n"),
     ["kind", "Canary", "Deployment"]),
    ("canary-file-not-yaml", raw_file("spec: [unclosed\n  - {{\n"),
     ["canary_file", ("YAML", "yaml")]),
    ("canary-file-missing", role_vars(canary_file="/nonexistent/{ns}/canary.yaml"),
     ["canary_file", "/nonexistent/", ("not found", "does not exist", "No such file")]),
    ("two-sources-at-once", role_vars(canary_name="podinfo", canary_namespace="{ns}"),
     ["canary_file", "canary_definition", "canary_name"]),
    ("no-source", role_vars(canary_file=None),
     ["canary_file", "canary_definition", "canary_name"]),
    ("canary-name-without-namespace", role_vars(canary_file=None, canary_name="podinfo"),
     ["canary_namespace"]),
    ("canary-object-missing", role_vars(canary_file=None, canary_name="nosuchcanary", canary_namespace="{ns}"),
     ["nosuchcanary", ("not found", "does not exist")]),
    ("traefik-group-unknown", role_vars(canary_traefik_api_version="traefik.example.com/v1"),
     ["canary_traefik_api_version", "traefik.io/v1alpha1", "traefik.containo.us/v1alpha1"]),
    ("on-gate-timeout-unknown", role_vars(canary_on_gate_timeout="pause"),
     ["canary_on_gate_timeout", "rollback", "fail"]),
    ("confirm-timeout-negative", role_vars(canary_confirm_timeout=-5),
     ["canary_confirm_timeout", "-5"]),
]


def target_docs(namespace):
    """podinfo and its IngressRoute, at 0 replicas: a bad-input run must never need a pod."""
    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}]
    for doc in example_docs("deployment.yaml", namespace) + example_docs("ingressroute.yaml", namespace):
        if doc["kind"] == "Deployment":
            doc["spec"]["replicas"] = 0
        docs.append(doc)
    return docs


def error_text(output):
    """What Ansible reported about the failure: the fatal/ERROR lines and the messages after them."""
    lines = output.splitlines()
    keep = []
    for index, line in enumerate(lines):
        if "FAILED!" in line or "[ERROR]" in line or "ERROR!" in line or "fatal:" in line:
            keep.extend(lines[index:index + 4])
    return "\n".join(keep)


def missing_fragments(text, fragments):
    missing = []
    for fragment in fragments:
        options = fragment if isinstance(fragment, tuple) else (fragment,)
        if not any(option in text for option in options):
            missing.append(" or ".join(repr(o) for o in options))
    return missing


def shard_playbook(cases, results_file):
    """One play including the role once per case, each in a block whose rescue records the failure.

    Starting ansible-playbook costs seconds of CPU; one process per case made this file take
    minutes on a busy machine, while the role behaves the same when included.
    """
    tasks = []
    for name, extra in cases:
        record = "{{{{ bad_results | combine({{{0!r}: {{'failed': {1}, 'msg': {2}, 'task': {3}}}}}) }}}}"
        tasks.append({
            "name": "case " + name,
            "block": [
                {"name": "run the role for " + name,
                 "ansible.builtin.include_role": {"name": "progressive.delivery.canary"}, "vars": extra},
                {"ansible.builtin.set_fact": {"bad_results": record.format(name, "false", "''", "''")}},
            ],
            "rescue": [
                {"ansible.builtin.set_fact": {"bad_results": record.format(
                    name, "true", "ansible_failed_result.msg | default('') | string",
                    "ansible_failed_task.name | default('')")}},
            ],
        })
    tasks.append({"ansible.builtin.copy": {"content": "{{ bad_results | to_json }}", "dest": str(results_file)}})
    return [{"name": "bad input", "hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": {"bad_results": {}, "ansible_python_interpreter": sys.executable}, "tasks": tasks}]


def run_shard(sandbox, tmp_path, index, cases):
    playbook = tmp_path / "shard-{0}.yml".format(index)
    results_file = tmp_path / "shard-{0}.json".format(index)
    playbook.write_text(yaml.safe_dump(shard_playbook(cases, results_file), width=1000))
    done = subprocess.run(tied([VENV_BIN / "ansible-playbook", playbook]), env=ansible_env(sandbox),
                          capture_output=True, text=True, timeout=600, cwd=ROOT, check=False)
    if not results_file.exists():
        raise AssertionError("shard {0} wrote no results:\n{1}\n{2}".format(index, done.stdout[-3000:],
                                                                            done.stderr[-3000:]))
    return json.loads(results_file.read_text())


@pytest.fixture(scope="module")
def outcomes(sandbox, tmp_path_factory):
    """Runs every case once; {case id: (failed, message, changes in its namespace)}."""
    install_crds(sandbox)
    tmp_path = tmp_path_factory.mktemp("bad-input")
    run_id = uuid.uuid4().hex[:5]
    namespaces = {case[0]: "bad-{0}-{1}".format(run_id, i) for i, case in enumerate(CASES)}
    docs = []
    for namespace in namespaces.values():
        docs.extend(target_docs(namespace))
    sandbox.apply(yaml.safe_dump_all(docs))
    namespaced = api_kinds(sandbox, True)
    cluster = api_kinds(sandbox, False)
    try:
        before = settled_snapshot(sandbox, namespaced, set(namespaces.values()))
        cluster_before = snapshot(sandbox, cluster, False).get("", {})
        built = [(name, build(namespaces[name], tmp_path)) for name, build, _f in CASES]
        shards = [built[i::SHARDS] for i in range(SHARDS)]
        with ThreadPoolExecutor(SHARDS) as pool:
            finished = {}
            for part in pool.map(lambda item: run_shard(sandbox, tmp_path, *item), enumerate(shards)):
                finished.update(part)
        after = snapshot(sandbox, namespaced, True)
        results = {}
        for name, namespace in namespaces.items():
            outcome = finished.get(name, {"failed": False, "msg": "case did not run", "task": ""})
            changes = diff(before.get(namespace, {}), after.get(namespace, {}))
            results[name] = (outcome["failed"], "{0} (task: {1})".format(outcome["msg"], outcome["task"]), changes)
        results["__cluster__"] = diff(cluster_before, snapshot(sandbox, cluster, False).get("", {}))
        yield results
    finally:
        sandbox.kubectl("delete", "namespace", *namespaces.values(), "--wait=false", check=False, timeout=120)


@pytest.mark.parametrize("name, fragments", [(c[0], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_naming_the_field_before_any_change(outcomes, name, fragments):
    failed, message, changes = outcomes[name]

    problems = []
    if not failed:
        problems.append("the role accepted the input")
    else:
        missing = missing_fragments(message, fragments)
        if missing:
            problems.append("the error does not mention {0}: {1}".format(", ".join(missing), message))
    if changes:
        problems.append("the run changed the cluster: {0}".format(changes))
    if outcomes["__cluster__"]:
        problems.append("cluster-scoped objects changed during the cases: {0}".format(outcomes["__cluster__"]))
    assert not problems, "\n".join(problems)


def test_a_traefik_group_that_is_not_installed_is_refused_before_any_change(sandbox, namespace, tmp_path):
    """Traefik v2's group asked for on a cluster whose TraefikService CRD exists only in traefik.io."""
    install_crds(sandbox)
    # The Canary names podinfo's HPA; without it the run stops at the HPA, before the group check.
    docs = target_docs(namespace)[1:] + example_docs("hpa.yaml", namespace)
    sandbox.apply(yaml.safe_dump_all(docs), namespace=namespace)
    crd = "traefikservices.traefik.containo.us"
    saved = json.loads(sandbox.kubectl("get", "crd", crd, "-o", "json").stdout)
    for key in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
        saved["metadata"].pop(key, None)
    saved.pop("status", None)
    sandbox.kubectl("delete", "crd", crd)
    try:
        kinds = api_kinds(sandbox, True)
        before = snapshot(sandbox, kinds, True).get(namespace, {})
        canary_file = tmp_path / "canary.yaml"
        canary_file.write_text(yaml.safe_dump(fast_canary(namespace)))

        done = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file),
                                                 "canary_traefik_api_version": "traefik.containo.us/v1alpha1"})

        output = done.stdout + "\n" + done.stderr
        assert done.returncode != 0, output[-3000:]
        errors = error_text(output)
        missing = missing_fragments(errors, ["traefik.containo.us/v1alpha1", "TraefikService",
                                             "traefik.io/v1alpha1"])
        assert not missing, "the error does not mention {0}:\n{1}".format(", ".join(missing), errors)
        assert diff(before, snapshot(sandbox, kinds, True).get(namespace, {})) == []
    finally:
        sandbox.apply(yaml.safe_dump(copy.deepcopy(saved)))


def test_the_catalogue_covers_at_least_25_cases():
    assert len(CASES) + 1 >= 25
    assert len({c[0] for c in CASES}) == len(CASES)
    assert all(re.match(r"^[a-z0-9-]+$", c[0]) for c in CASES)
