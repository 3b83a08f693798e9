# Sourced by scripts/build_control_plane.sh and scripts/build_flagger.sh: builds Go commands pinned
# by a go.mod of ours into a cache outside the work tree, once per set of pins.
#
# The cache is ${PD_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/progressive-delivery}/<name>/<key>/bin/,
# where <key> hashes the pins, the build flags and the Go toolchain. A build goes to a temporary
# directory that is renamed into place, and a lock keeps concurrent runs from building the same
# thing twice. Progress goes to stderr; the last line of stdout is the bin directory.

# Static binaries, as the projects release them; the committed go.sum is authoritative.
export CGO_ENABLED=0 GOWORK=off GOTOOLCHAIN=local
goflags=(-mod=readonly -trimpath)
cache_root=${PD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/progressive-delivery}

# go_cache_key FLAGS FILE...: the cache key of a build from the pins in FILE... with FLAGS.
go_cache_key() {
  local flags=$1
  shift
  {
    cat "$@"
    go version
    echo "CGO_ENABLED=$CGO_ENABLED ${goflags[*]} $flags"
  } | sha256sum | cut -c1-16
}

# go_cached_build NAME KEY BUILD_FN BIN...: prints the cached bin directory of NAME at KEY once it
# holds every BIN, first calling BUILD_FN with a temporary bin directory to fill if it does not.
go_cached_build() {
  local name=$1 key=$2 build_fn=$3
  shift 3
  local cache=$cache_root/$name
  local dest=$cache/$key bins=("$@") start=$SECONDS tmp

  _go_cached_build_complete() {
    local b
    for b in "${bins[@]}"; do
      [[ -x $dest/bin/$b ]] || return 1
    done
  }

  if _go_cached_build_complete; then
    echo "$dest/bin"
    return 0
  fi
  mkdir -p "$cache"
  exec 9>"$cache/.lock"
  if ! flock -n 9; then
    echo "waiting for another build of $name to finish ..." >&2
    flock 9
  fi
  if _go_cached_build_complete; then
    exec 9>&-
    echo "$dest/bin"
    return 0
  fi

  # Holding the lock, any other build directory was left by a build that was killed.
  rm -rf "$cache"/.build-*
  tmp=$(mktemp -d "$cache/.build-XXXXXX")
  # shellcheck disable=SC2064 # the directory is known now
  trap "rm -rf '$tmp'" EXIT
  mkdir "$tmp/bin"
  chmod 755 "$tmp"
  echo "building $name into $dest (takes minutes when Go's build cache is cold)" >&2
  "$build_fn" "$tmp/bin"
  rm -rf "$dest"
  mv -T "$tmp" "$dest"
  trap - EXIT
  exec 9>&-
  echo "built $name in $((SECONDS - start)) s" >&2
  echo "$dest/bin"
}

# go_build_one OUT_DIR NAME MODULE_DIR LDFLAGS PACKAGE: builds one command, saying how long it took.
go_build_one() {
  local out=$1 name=$2 dir=$3 ldflags=$4 pkg=$5 start=$SECONDS
  echo "  building $name ..." >&2
  go build -C "$dir" "${goflags[@]}" -ldflags "$ldflags" -o "$out/$name" "$pkg"
  echo "  built $name in $((SECONDS - start)) s" >&2
}
