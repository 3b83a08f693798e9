"""A local Kubernetes sandbox: emulated API server and controllers around real Traefik, Prometheus and kubectl."""
