"""Processes and networking of the sandbox: pods, Service proxies, Traefik, Prometheus, control server."""
