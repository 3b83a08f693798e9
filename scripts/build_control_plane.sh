#!/usr/bin/env bash
# Builds the real Kubernetes control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler) and etcd for the sandbox, from the versions pinned in
# tests/sandbox/controlplane/go.mod and tests/sandbox/controlplane/etcd/go.mod.
#
# The binaries are cached outside the work tree, in
#   ${PD_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/progressive-delivery}/controlplane/<key>/bin/
# where <key> hashes the pins, the build flags and the Go toolchain: only the first run builds
# (several minutes); later runs just print the directory. A build goes to a temporary directory
# that is renamed into place, and a lock keeps concurrent runs from building the same thing twice.
#
# Progress goes to stderr; the last line of stdout is the bin directory:
#   BIN=$(scripts/build_control_plane.sh | tail -1)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=$root/tests/sandbox/controlplane
cache=${PD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/progressive-delivery}/controlplane
bins=(etcd kube-apiserver kube-controller-manager kube-scheduler)

# Static binaries, as Kubernetes and etcd release them; the committed go.sum is authoritative.
export CGO_ENABLED=0 GOWORK=off GOTOOLCHAIN=local
goflags=(-mod=readonly -trimpath)
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

key=$(
  {
    cat "$src/go.mod" "$src/go.sum" "$src/etcd/go.mod" "$src/etcd/go.sum"
    go version
    echo "CGO_ENABLED=$CGO_ENABLED ${goflags[*]} $kube_ldflags / $etcd_ldflags"
  } | sha256sum | cut -c1-16
)
dest=$cache/$key

complete() {
  local b
  for b in "${bins[@]}"; do
    [[ -x $dest/bin/$b ]] || return 1
  done
}

if complete; then
  echo "$dest/bin"
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
  echo "waiting for another build of the control plane to finish ..." >&2
  flock 9
fi
if complete; then
  echo "$dest/bin"
  exit 0
fi

# Holding the lock, any other build directory was left by a build that was killed.
rm -rf "$cache"/.build-*
tmp=$(mktemp -d "$cache/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
chmod 755 "$tmp"

echo "building the control plane into $dest (Kubernetes $kube_version; takes minutes when Go's build cache is cold)" >&2
build() {
  local name=$1 dir=$2 ldflags=$3 pkg=$4 start=$SECONDS
  echo "  building $name ..." >&2
  go build -C "$dir" "${goflags[@]}" -ldflags "$ldflags" -o "$tmp/bin/$name" "$pkg"
  echo "  built $name in $((SECONDS - start)) s" >&2
}
total=$SECONDS
build kube-apiserver "$src" "$kube_ldflags" k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager "$src" "$kube_ldflags" k8s.io/kubernetes/cmd/kube-controller-manager
build kube-scheduler "$src" "$kube_ldflags" k8s.io/kubernetes/cmd/kube-scheduler
build etcd "$src/etcd" "$etcd_ldflags" go.etcd.io/etcd/server/v3

rm -rf "$dest"
mv -T "$tmp" "$dest"
trap - EXIT
echo "built the control plane in $((SECONDS - total)) s" >&2
echo "$dest/bin"
