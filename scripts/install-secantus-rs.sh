#!/usr/bin/env bash
# `make secantus-rs`: the Rust build of SecantusDB into .tools/bin, for load runs (about 8x
# faster on writes than the Python build, whose insert rate falls after ~11k inserts).
# GPL: it runs as a separate process and is linked into nothing we ship. ~8 min cold.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
cd "$ROOT"
VERSION="0.5.3-beta.196"
if [ -x .tools/bin/secantusd-rs ] && grep -q "secantus-mdb $VERSION" .tools/.crates.toml 2>/dev/null; then
  echo "secantusd-rs $VERSION is installed in .tools/bin"
  exit 0
fi
scripts/tools.sh cmake
step "building secantus-mdb $VERSION (declares rust 1.98; builds on ours)"
cargo install secantus-mdb --version "$VERSION" --ignore-rust-version --root .tools
