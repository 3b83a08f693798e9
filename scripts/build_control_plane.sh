#!/usr/bin/env bash
# Builds the real Kubernetes control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler) and etcd for the sandbox, from the versions pinned in
# tests/sandbox/controlplane/go.mod and tests/sandbox/controlplane/etcd/go.mod.
#
# The binaries are cached outside the work tree, in
#   ${PD_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/progressive-delivery}/controlplane/<key>/bin/
# (see scripts/go_cached_build.sh): only the first run builds (several minutes); later runs just
# print the directory.
#
# Progress goes to stderr; the last line of stdout is the bin directory:
#   BIN=$(scripts/build_control_plane.sh | tail -1)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/go_cached_build.sh
. "$root/scripts/go_cached_build.sh"
src=$root/tests/sandbox/controlplane

kube_version=$(awk '{ for (i = 1; i < NF; i++) if ($i == "k8s.io/kubernetes" && $(i + 1) ~ /^v/) { print $(i + 1); exit } }' "$src/go.mod")
if [[ ! $kube_version =~ ^v([0-9]+)\.([0-9]+)\. ]]; then
  echo "cannot read the k8s.io/kubernetes version from $src/go.mod" >&2
  exit 1
fi
# What `kube-apiserver --version` and the API's /version report (hack/lib/version.sh sets the
# same variables); without them they report v0.0.0 and clients warn about version skew.
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$kube_version"
  kube_ldflags+=" -X $pkg.gitMajor=${BASH_REMATCH[1]} -X $pkg.gitMinor=${BASH_REMATCH[2]}"
  kube_ldflags+=" -X $pkg.gitTreeState=clean"
done
etcd_ldflags="-s -w"

build_all() {
  echo "  (Kubernetes $kube_version)" >&2
  go_build_one "$1" kube-apiserver "$src" "$kube_ldflags" k8s.io/kubernetes/cmd/kube-apiserver
  go_build_one "$1" kube-controller-manager "$src" "$kube_ldflags" k8s.io/kubernetes/cmd/kube-controller-manager
  go_build_one "$1" kube-scheduler "$src" "$kube_ldflags" k8s.io/kubernetes/cmd/kube-scheduler
  go_build_one "$1" etcd "$src/etcd" "$etcd_ldflags" go.etcd.io/etcd/server/v3
}

key=$(go_cache_key "$kube_ldflags / $etcd_ldflags" "$src/go.mod" "$src/go.sum" "$src/etcd/go.mod" "$src/etcd/go.sum")
go_cached_build controlplane "$key" build_all etcd kube-apiserver kube-controller-manager kube-scheduler
