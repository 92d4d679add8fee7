#!/usr/bin/env bash
# The main job on an embedded default (no external service): builds the project and runs `sysflow run` — live eBPF
# capture of this host, the built-in policies, alerts on the terminal, traces rotated under target/demo/traces —
# for DURATION seconds (default 20) while a small workload does a few suspicious things.
# Without root (or without BPF), it runs the same policies over a generated trace with `sysflow process` instead.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-20}
out=target/demo
mkdir -p "$out"
if [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # libbpf-sys builds libbpf from source: it needs these headers.
  dpkg -s libelf-dev zlib1g-dev pkg-config >/dev/null 2>&1 || {
    apt-get update -qq && apt-get install -y -qq --no-install-recommends libelf-dev zlib1g-dev pkg-config >/dev/null; }
fi
cargo build --release -q -p sysflow-cli
bin=${CARGO_TARGET_DIR:-target}/release   # where cargo put the build
if [ "$(id -u)" = 0 ] && [ -e /sys/kernel/btf/vmlinux ]; then
  rm -rf "$out/traces"   # this run's traces only
  echo "==> sysflow run for ${duration}s (alerts below; traces in $out/traces)" >&2
  ( sleep 3
    for _ in 1 2 3; do cat /etc/shadow >/dev/null; sh -c 'echo demo > /etc/sysflow-demo; rm -f /etc/sysflow-demo'; sleep 1; done
  ) &
  "$bin/sysflow" run -w "$out/traces" --duration "$duration"
  wait
  "$bin/sysflow" stats "$out"/traces/[0-9]*
else
  echo "==> not root (or no BTF): running the built-in policies over a generated trace instead" >&2
  "$bin/sysflow" generate -n 200000 -w "$out/demo.sf"
  policies=crates/sysflow-cli/policies/default.yaml
  cat > "$out/pipeline.json" <<JSON
{"pipeline": [
  {"processor": "sysflowreader", "handler": "flattener", "in": "sysflow sysflowchan", "out": "flat flattenerchan"},
  {"processor": "policyengine", "in": "flat flattenerchan", "out": "evt eventchan", "policies": "$policies", "mode": "alert"},
  {"processor": "exporter", "in": "evt eventchan", "export": "terminal", "format": "json"}]}
JSON
  "$bin/sysflow" process -config "$out/pipeline.json" -driver file "$out/demo.sf" | head -n 5
  "$bin/sysprint" -o str "$out/demo.sf" | head -n 12
fi
