"""The objects tests, benchmark and chaos put into a cluster or hand to the modules: one set.

The sample app comes from examples/podinfo (the article's manifests) re-targeted to a namespace;
the Canary, MetricTemplate and Traefik objects are built here with the shapes the tests rely on.
"""
import copy
from pathlib import Path

import yaml

from .checkout import EXAMPLES

HOST_SUFFIX = "app.example.com"


def host_for(namespace):
    """The host name the IngressRoute of ``namespace`` answers to."""
    return "{0}.{1}".format(namespace, HOST_SUFFIX)


# --- the article's manifests --------------------------------------------------------------------

# The article's Canary, as published (comments included), for tests that must accept it
# unchanged. Kept verbatim here rather than read from examples/, which may adapt it to the sandbox.
SEED_CANARY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  provider: traefik
  # deployment reference
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  # HPA reference (optional)
  autoscalerRef:
    apiVersion: autoscaling/v2beta2
    kind: HorizontalPodAutoscaler
    name: podinfo
  # the maximum time in seconds for the canary deployment
  # to make progress before it is rollback (default 600s)
  progressDeadlineSeconds: 60
  service:
    # ClusterIP port number
    port: 80
    # container port number or name
    targetPort: 9898
  analysis:
    # schedule interval (default 60s)
    interval: 10s
    # max number of failed metric checks before rollback
    threshold: 10
    # max traffic percentage routed to canary
    # percentage (0-100)
    maxWeight: 50
    # canary increment step
    # percentage (0-100)
    stepWeight: 5
    # Traefik Prometheus checks
    metrics:
    - name: request-success-rate
      interval: 1m
      # minimum req success rate (non 5xx responses)
      # percentage (0-100)
      thresholdRange:
        min: 99
    - name: request-duration
      interval: 1m
      # maximum req duration P99
      # milliseconds
      thresholdRange:
        max: 500
    webhooks:
      - name: acceptance-test
        type: pre-rollout
        url: http://flagger-loadtester.test/
        timeout: 10s
        metadata:
          type: bash
          cmd: "curl -sd 'test' http://podinfo-canary.test/token | grep token"
      - name: load-test
        type: rollout
        url: http://flagger-loadtester.test/
        timeout: 5s
        metadata:
          type: cmd
          cmd: "hey -z 10m -q 10 -c 2 -host app.example.com http://traefik.traefik"
          logCmdOutput: "true"
"""


def example_docs(name, namespace):
    """The example manifests in file(s) ``name`` (a name or a list) with their namespace replaced."""
    names = [name] if isinstance(name, str) else name
    docs = [d for n in names for d in yaml.safe_load_all((EXAMPLES / n).read_text()) if d]
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
    return docs


def renamed_app(docs, name):
    """The example Deployment and HPA as the app ``name`` (its own ``app`` label and HPA target)."""
    for doc in docs:
        doc["metadata"]["name"] = name
        if doc["kind"] == "Deployment":
            doc["metadata"]["labels"]["app"] = name
            doc["spec"]["selector"]["matchLabels"]["app"] = name
            doc["spec"]["template"]["metadata"]["labels"]["app"] = name
        elif doc["kind"] == "HorizontalPodAutoscaler":
            doc["spec"]["scaleTargetRef"]["name"] = name
    return docs


def podinfo_docs(namespace, *, name="podinfo", image=None, service_name="podinfo", ingress=True, hpa=True):
    """The example app: Deployment ``name`` (with ``image``), its HPA, and an IngressRoute for
    ``host_for(namespace)`` to TraefikService ``service_name``."""
    docs = example_docs(["deployment.yaml"] + (["hpa.yaml"] if hpa else []), namespace)
    if name != "podinfo":
        renamed_app(docs, name)
    if image:
        docs[0]["spec"]["template"]["spec"]["containers"][0]["image"] = image
    if ingress:
        route = example_docs("ingressroute.yaml", namespace)[0]
        route["spec"]["routes"][0]["match"] = "Host(`{0}`)".format(host_for(namespace))
        route["spec"]["routes"][0]["services"][0]["name"] = service_name
        docs.append(route)
    return docs


# --- Canary and MetricTemplate ---------------------------------------------------------------------

def builtin_metrics(interval="15s"):
    """Flagger's two built-in checks with the article's thresholds."""
    return [
        {"name": "request-success-rate", "interval": interval, "thresholdRange": {"min": 99}},
        {"name": "request-duration", "interval": interval, "thresholdRange": {"max": 500}},
    ]


def analysis(*, interval, threshold, max_weight=None, step_weight=None, step_weights=None, metrics=None,
             metric_interval="15s", webhooks=None):
    """A Canary's ``spec.analysis``: stepWeights when given, else stepWeight up to maxWeight; the
    built-in metrics unless ``metrics`` is given; ``webhooks`` only when given."""
    spec = {"interval": interval, "threshold": threshold}
    if step_weights:
        spec["stepWeights"] = list(step_weights)
    else:
        spec.update(maxWeight=max_weight, stepWeight=step_weight)
    spec["metrics"] = metrics if metrics is not None else builtin_metrics(metric_interval)
    if webhooks is not None:
        spec["webhooks"] = webhooks
    return spec


def canary(namespace, analysis_spec, *, progress_deadline=60, service=None, autoscaler=None, name="podinfo"):
    """A flagger.app/v1beta1 Canary of the Deployment ``name`` with ``analysis_spec``; ``service``
    adds to port 80 -> 9898, ``autoscaler`` names the HPA's apiVersion when it has one."""
    spec = {
        "provider": "traefik",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "progressDeadlineSeconds": progress_deadline,
        "service": dict({"port": 80, "targetPort": 9898}, **(service or {})),
        "analysis": analysis_spec,
    }
    if autoscaler:
        spec["autoscalerRef"] = {"apiVersion": autoscaler, "kind": "HorizontalPodAutoscaler", "name": name}
    return {"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def seed_canary(namespace, **analysis_fields):
    """The article's Canary from examples/, re-targeted to ``namespace``, with analysis fields overridden."""
    doc = example_docs("canary.yaml", namespace)[0]
    spec = doc["spec"]
    spec["analysis"].update(analysis_fields)
    for hook in spec["analysis"].get("webhooks", []):
        hook["url"] = hook["url"].replace(".test/", ".{0}/".format(namespace))
        cmd = hook["metadata"].get("cmd", "")
        hook["metadata"]["cmd"] = cmd.replace("podinfo-canary.test", "podinfo-canary.{0}".format(namespace))
    return doc


def fast_canary(namespace, *, interval="3s", threshold=2, max_weight=30, step_weight=10, metrics=None,
                webhooks=None, service_name=None, progress_deadline=90, **spec_extra):
    """The article's Canary but quick: no load-test webhook (tests bring their own load).

    The default progress deadline is generous: real controllers on a busy two-core machine may take
    a while to roll pods out."""
    doc = seed_canary(namespace)
    spec = doc["spec"]
    spec["progressDeadlineSeconds"] = spec_extra.pop("progressDeadlineSeconds", progress_deadline)
    spec["analysis"] = analysis(interval=interval, threshold=threshold, max_weight=max_weight,
                                step_weight=step_weight, metrics=metrics, webhooks=webhooks or [])
    if service_name:
        spec["service"]["name"] = service_name
    spec.update(spec_extra)
    return doc


def acceptance_hook(namespace, grep="token"):
    """The article's acceptance test, pointed at this namespace's load tester and canary."""
    return {"name": "acceptance-test", "type": "pre-rollout",
            "url": "http://flagger-loadtester.{0}/".format(namespace), "timeout": "10s",
            "metadata": {"type": "bash",
                         "cmd": "curl -sd 'test' http://podinfo-canary.{0}/token | grep {1}".format(namespace, grep)}}


def metric_template(name, query, address, namespace=None, **provider):
    """A flagger.app/v1beta1 MetricTemplate of a Prometheus ``query`` at ``address``."""
    metadata = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate", "metadata": metadata,
            "spec": {"provider": dict({"type": "prometheus", "address": address}, **provider), "query": query}}


# --- a primary/canary pair and its routes, as Flagger's initialisation leaves them -----------------

def deployment(name, app_label, version, replicas=1, env=None, pod_spec_extra=None):
    """A podinfo Deployment whose pods carry ``app: app_label`` and answer ``/readyz`` on 9898."""
    container = {
        "name": "podinfod",
        "image": "stefanprodan/podinfo:{0}".format(version),
        "ports": [{"name": "http", "containerPort": 9898, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 9898}, "periodSeconds": 1},
    }
    if env:
        container["env"] = [{"name": k, "value": str(v)} for k, v in env.items()]
    spec = {"containers": [container]}
    spec.update(pod_spec_extra or {})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": app_label}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app_label}},
            "template": {"metadata": {"labels": {"app": app_label}}, "spec": spec},
        },
    }


def service(name, app_label):
    """A ClusterIP Service, port 80 to the pods' 9898."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "selector": {"app": app_label},
            "ports": [{"name": "http", "port": 80, "targetPort": 9898, "protocol": "TCP"}],
        },
    }


def traefik_service(api_version, weights, name="podinfo"):
    """A weighted TraefikService; ``weights`` maps Service name to weight."""
    return {
        "apiVersion": api_version,
        "kind": "TraefikService",
        "metadata": {"name": name},
        "spec": {"weighted": {"services": [
            {"name": svc, "port": 80, "weight": w} for svc, w in weights.items()]}},
    }


def mirroring_traefik_service(name, api_version="traefik.io/v1alpha1"):
    """A mirroring TraefikService: the primary serves, 10% is mirrored to the canary."""
    return {
        "apiVersion": api_version,
        "kind": "TraefikService",
        "metadata": {"name": name},
        "spec": {"mirroring": {"name": "podinfo-primary", "port": 80,
                               "mirrors": [{"name": "podinfo-canary", "port": 80, "percent": 10}]}},
    }


def ingress_route(namespace, api_version="traefik.io/v1alpha1", target="podinfo"):
    """An IngressRoute for ``host_for(namespace)`` to the TraefikService ``target``."""
    return {
        "apiVersion": api_version,
        "kind": "IngressRoute",
        "metadata": {"name": "podinfo"},
        "spec": {
            "entryPoints": ["web"],
            "routes": [{
                "match": "Host(`{0}`)".format(host_for(namespace)),
                "kind": "Rule",
                "services": [{"name": target, "kind": "TraefikService", "port": 80}],
            }],
        },
    }


def namespaced(docs, namespace):
    """Copies of ``docs`` placed in ``namespace``."""
    docs = copy.deepcopy(list(docs))
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
    return docs


def write_canary(directory, canary_doc, name="canary.yaml"):
    """``canary_doc`` as a YAML file in ``directory``, for ``canary_file``."""
    path = Path(directory) / name
    path.write_text(yaml.safe_dump(canary_doc))
    return path
