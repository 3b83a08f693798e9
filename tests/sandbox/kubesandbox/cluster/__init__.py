"""The sandbox on the real Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager
and kube-scheduler as local processes; the kubelet, Service proxies and DNS stay the sandbox's own."""
