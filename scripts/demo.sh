#!/usr/bin/env bash
# The main job on an embedded default, no external service: builds the project, writes a realistic synthetic trace
# with the format library, and prints it the way the reference sysprint does.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p sysflow-cli
bin=target/release
out=${1:-target/demo}
mkdir -p "$out"
"$bin/sysflow" generate -n 200000 -w "$out/demo.sf"
"$bin/sysflow" stats "$out/demo.sf"
"$bin/sysprint" -o str "$out/demo.sf" | head -n 25
echo "..."
"$bin/sysprint" -o json "$out/demo.sf" | tail -n 1
