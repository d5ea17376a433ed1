#!/usr/bin/env bash
# Man pages and shell completions of the four binaries, generated from their flags:
#   scripts/docs.sh [OUT]   (default target/docs) -> OUT/man/<bin>.1, OUT/completions/<shell>/<bin>
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/docs}"
cargo build --release --quiet --workspace
bin="${CARGO_TARGET_DIR:-target}/release"
mkdir -p "$out/man"
for b in process upload raw stations; do
  "$bin/$b" --man > "$out/man/$b.1"
  for shell in bash zsh fish; do
    mkdir -p "$out/completions/$shell"
    "$bin/$b" --completions "$shell" > "$out/completions/$shell/$b"
  done
done
echo "man pages and completions in $out (man -l $out/man/process.1; source $out/completions/bash/process)" >&2
