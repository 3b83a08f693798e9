"""The sample app and its neighbours, put into a sandbox namespace with kubectl.

Built directly, not by the collection, so a test exercises only the modules it is about.
"""
import yaml

from .checkout import ROOT
from .manifests import deployment, example_docs, ingress_route, podinfo_docs, service, traefik_service
from .sandbox import wait_until


def install_crds(sandbox):
    """The Canary and MetricTemplate CRDs, as playbooks/install_crds.yml installs them (idempotent)."""
    sandbox.kubectl("apply", "-f", str(ROOT / "crds"))
    for crd in ("canaries.flagger.app", "metrictemplates.flagger.app"):
        # kubectl wait gives up at once while a new CRD has no status yet, so it is asked again.
        wait_until(lambda crd=crd: sandbox.kubectl("wait", "--for=condition=Established", "crd/" + crd,
                                                   "--timeout=10s", check=False).returncode == 0,
                   timeout=60, interval=0.5, what=f"CRD {crd} to be established")


def create_namespace(sandbox, namespace):
    """``namespace``, created or left as it is."""
    sandbox.apply("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {0}\n".format(namespace))


def deploy_podinfo(sandbox, namespace, *, ingress=True, service_name="podinfo", image=None, name="podinfo",
                   crds=True, wait=60):
    """The example app as Deployment ``name``, with an IngressRoute to TraefikService ``service_name``;
    waits ``wait`` seconds for its rollout (0: does not wait)."""
    if crds:
        install_crds(sandbox)
    docs = podinfo_docs(namespace, name=name, image=image, service_name=service_name, ingress=ingress)
    sandbox.apply(yaml.safe_dump_all(docs), namespace=namespace)
    if wait:
        sandbox.kubectl("-n", namespace, "rollout", "status", f"deployment/{name}", f"--timeout={wait}s",
                        timeout=wait + 10)


def loadtester_docs(namespace):
    return example_docs(["loadtester-deployment.yaml", "loadtester-service.yaml"], namespace)


def deploy_loadtester(sandbox, namespace):
    """Flagger's load tester (the sandbox runs the real one for its image) in ``namespace``."""
    sandbox.apply(yaml.safe_dump_all(loadtester_docs(namespace)), namespace=namespace)
    sandbox.kubectl("-n", namespace, "rollout", "status", "deployment/flagger-loadtester", "--timeout=60s")


def set_image(sandbox, namespace, tag, env=None, deployment="podinfo"):
    """A new revision of the app: podinfo ``tag``, and ``env`` set on the container."""
    sandbox.kubectl("-n", namespace, "set", "image", f"deployment/{deployment}", f"podinfod=stefanprodan/podinfo:{tag}")
    if env:
        sandbox.kubectl("-n", namespace, "set", "env", f"deployment/{deployment}", *[f"{k}={v}" for k, v in env.items()])


def deploy_pair(sandbox, namespace, primary_version="1.0.0", canary_version="2.0.0",
                canary_env=None, canary_replicas=1, primary_replicas=1, canary_pod_spec=None,
                with_traefik_service=True, traefik_api_version="traefik.io/v1alpha1",
                weights=None, extra_docs=(), weights_timeout=10.0):
    """Deployments podinfo (the canary/target) and podinfo-primary, their Services, an
    IngressRoute for ``<namespace>.app.example.com`` and (optionally) the TraefikService."""
    docs = list(extra_docs) + [
        deployment("podinfo-primary", "podinfo-primary", primary_version, primary_replicas),
        deployment("podinfo", "podinfo", canary_version, canary_replicas, env=canary_env,
                   pod_spec_extra=canary_pod_spec),
        service("podinfo", "podinfo-primary"),
        service("podinfo-primary", "podinfo-primary"),
        service("podinfo-canary", "podinfo"),
        ingress_route(namespace),
    ]
    if with_traefik_service:
        docs.append(traefik_service(traefik_api_version, weights or {"podinfo-primary": 100}))
    sandbox.apply(yaml.safe_dump_all(docs), namespace=namespace)
    for name in ("podinfo-primary", "podinfo"):
        if (name == "podinfo" and canary_replicas) or (name != "podinfo" and primary_replicas):
            sandbox.wait_for_rollout(namespace, name)
    if with_traefik_service and traefik_api_version == "traefik.io/v1alpha1":
        # Tests start measuring only once Traefik serves the route.
        sandbox.wait_for_weights(namespace, "podinfo", weights or {"podinfo-primary": 100},
                                 timeout=weights_timeout)
