"""A local Kubernetes sandbox: the real kube-apiserver, etcd and controllers, our process kubelet, real Traefik, Prometheus and kubectl."""
