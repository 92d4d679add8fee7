#!/usr/bin/env bash
# Runs every test of the project on a fresh machine of this kind (Debian 12, root): installs what the tests need
# (apt packages, the reference Python tools, servers), then runs formatting and lint gates, the whole test suite
# (root-only and server-backed tests included), and a bounded fuzzing pass.
#
#   scripts/test.sh            # everything
#   SKIP_INSTALL=1 scripts/test.sh   # when the dependencies are already installed
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==> %s\n' "$*"; }

if [ -z "${SKIP_INSTALL:-}" ]; then
  step "Installing system packages"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    # clang/llvm/libelf/bpftool: the collector's BPF object; rsyslog: the syslog exporter's tests.
    apt-get install -y -qq --no-install-recommends \
      clang llvm libelf-dev zlib1g-dev pkg-config bpftool \
      rsyslog rsyslog-gnutls openssl python3-venv >/dev/null
  else
    echo "not root: skipping apt-get (root-only tests will skip)"
  fi

  step "Installing the reference Python tools (sysflow-tools 0.6.1) for cross-checks"
  if [ ! -x .venv-ref/bin/sysprint ]; then
    python3 -m venv .venv-ref
    .venv-ref/bin/pip install -q --disable-pip-version-check sysflow-tools==0.6.1 tabulate==0.9.0 cramjam backports.zstd
  fi

  step "Installing cargo-fuzz and the S3 test server (s3s-fs, a real S3 implementation that checks SigV4)"
  command -v cargo-fuzz >/dev/null || cargo install -q cargo-fuzz --locked
  command -v s3s-fs >/dev/null || cargo install -q s3s-fs --version 0.14.1 --features binary --locked
fi

export SYSFLOW_REF_SYSPRINT="$root/.venv-ref/bin/sysprint"
export SYSFLOW_REQUIRE_REFERENCE=1
if [ "$(id -u)" = 0 ]; then export SYSFLOW_TEST_REQUIRE_ROOT=1 SYSFLOW_TEST_REQUIRE_CLANG=1; fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo test"
mkdir -p target
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee target/test-output.txt
status=${PIPESTATUS[0]}
set -e
[ "$status" = 0 ] || { echo "cargo test failed (status $status)"; exit "$status"; }

step "Fuzzing the decoders (bounded)"
for t in container datum schema; do
  ./fuzz/run.sh "$t" "${FUZZ_SECONDS:-45}" > "target/fuzz-$t.log" 2>&1 || { tail -40 "target/fuzz-$t.log"; echo "fuzzing $t failed"; exit 1; }
  grep -E '^Done [0-9]+ runs' "target/fuzz-$t.log" || tail -3 "target/fuzz-$t.log"
done

# One summary line that CI understands.
passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' target/test-output.txt | awk '{s+=$4} END {print s+0}')
skipped=$(grep -c '^SKIP' target/test-output.txt || true)
echo
echo "tests: ${passed} passed, 0 failed, ${skipped} skipped"
