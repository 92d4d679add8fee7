#!/usr/bin/env bash
# Fuzzes one target for a bounded time: ./fuzz/run.sh <container|datum|schema> [seconds]
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?target}
secs=${2:-60}
corpus=corpus/$target
mkdir -p "$corpus"
if [ "$target" = container ] && [ -d ../../shared/traces ]; then
  # Seed with small real traces (the fuzzer mutates them into every kind of damage).
  # (no `| head`: under pipefail, find would die of SIGPIPE)
  mapfile -t seeds < <(find ../../shared/traces -type f -size -40k ! -name '*.scap' | sort)
  for f in "${seeds[@]:0:40}"; do cp -n "$f" "$corpus/" 2>/dev/null || true; done
fi
exec cargo fuzz run -s none "$target" "$corpus" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10
