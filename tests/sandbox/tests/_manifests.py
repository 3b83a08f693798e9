"""Manifests the runtime tests share, shaped like the seed article's podinfo and loadtester."""


def podinfo_deployment(name="podinfo", image="stefanprodan/podinfo:3.1.0", replicas=2, env=None, app=None,
                       progress_deadline=60, max_unavailable=0):
    env_lines = ""
    if env:
        env_lines = "        env:\n" + "".join(f"        - name: {k}\n          value: \"{v}\"\n" for k, v in env.items())
    app = app or name
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app: {app}
spec:
  replicas: {replicas}
  progressDeadlineSeconds: {progress_deadline}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: {max_unavailable}
  selector:
    matchLabels:
      app: {app}
  template:
    metadata:
      labels:
        app: {app}
    spec:
      containers:
      - name: podinfod
        image: {image}
        command: [./podinfo, --port=9898]
        ports:
        - name: http
          containerPort: 9898
          protocol: TCP
        readinessProbe:
          exec:
            command: [podcli, check, http, localhost:9898/readyz]
          initialDelaySeconds: 5
          timeoutSeconds: 5
{env_lines}"""


def service(name, app=None, port=80, target="http"):
    return f"""apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector:
    app: {app or name}
  ports:
  - name: http
    port: {port}
    targetPort: {target}
"""


def hpa(name="podinfo"):
    return f"""apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {name}
  minReplicas: 2
  maxReplicas: 4
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 99
"""


def weighted_traefikservice(name, weights, group="traefik.io", port=80):
    services = "".join(f"    - name: {svc}\n      port: {port}\n      weight: {w}\n" for svc, w in weights.items())
    return f"""apiVersion: {group}/v1alpha1
kind: TraefikService
metadata:
  name: {name}
spec:
  weighted:
    services:
{services}"""


def ingressroute(name, host, traefikservice, group="traefik.io"):
    return f"""apiVersion: {group}/v1alpha1
kind: IngressRoute
metadata:
  name: {name}
spec:
  entryPoints:
  - web
  routes:
  - match: Host(`{host}`)
    kind: Rule
    services:
    - name: {traefikservice}
      kind: TraefikService
      port: 80
"""


def loadtester():
    return """apiVersion: apps/v1
kind: Deployment
metadata:
  name: flagger-loadtester
  labels:
    app: flagger-loadtester
spec:
  replicas: 1
  selector:
    matchLabels:
      app: flagger-loadtester
  template:
    metadata:
      labels:
        app: flagger-loadtester
    spec:
      containers:
      - name: loadtester
        image: ghcr.io/fluxcd/flagger-loadtester:0.34.0
        command: ["./loadtester", "-port=8080", "-log-level=info", "-timeout=1h"]
        ports:
        - name: http
          containerPort: 8080
        readinessProbe:
          httpGet:
            path: /healthz
            port: http
---
apiVersion: v1
kind: Service
metadata:
  name: flagger-loadtester
spec:
  selector:
    app: flagger-loadtester
  ports:
  - name: http
    port: 80
    targetPort: http
"""


def join(*docs):
    return "---\n".join(docs)
