# Shared settings for meshfed's scripts. Source it; do not run it.
# Everything the scripts install or build lives under $MESHFED_CACHE, so a fresh clone (CI) reuses
# the builds of an earlier run on the same machine and a new machine builds everything from scratch.
set -euo pipefail
MESHFED_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MESHFED_ROOT
export MESHFED_CACHE="${MESHFED_CACHE:-$HOME/.cache/meshfed}"
export MESHFED_BIN="$MESHFED_CACHE/bin"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$MESHFED_CACHE/cargo-target}"
export GOMODCACHE="${GOMODCACHE:-$(go env GOMODCACHE)}"
export GOCACHE="${GOCACHE:-$(go env GOCACHE)}"
export GOTOOLCHAIN=local
mkdir -p "$MESHFED_BIN"

log() { printf '==> %s\n' "$*" >&2; }

# stamp_of FILE... : a hash of the given files' contents, used to skip rebuilds.
stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
