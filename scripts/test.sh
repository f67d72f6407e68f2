#!/usr/bin/env bash
# The project's whole test suite: formatting, vet, unit and fixture tests for
# every kernel set, the generic set alone (purego), arm64 under qemu, the
# race detector on the packages without assembly, cross-builds, and a short
# run of every fuzz target. Reference data comes from $RWKV_TESTDATA
# (default ../shared); tests that need it skip when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
export RWKV_TESTDATA="${RWKV_TESTDATA:-$(cd .. && pwd)/shared}"
FUZZTIME="${FUZZTIME:-4s}"
QEMU_TIMEOUT="${QEMU_TIMEOUT:-300}" # seconds per emulated test binary (the model's takes about 50 s here)

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$bad" ]; then echo "not gofmt-ed:"; echo "$bad"; exit 1; fi

step "go vet"
go vet ./...

step "go test (all kernel sets this CPU has)"
go test -count=1 -timeout 25m ./...

step "go test -tags purego (generic kernels only)"
go test -count=1 -short -tags purego ./internal/kernels/ ./internal/model/

step "go test -race -short (the assembly-bound paths run as their generic twins)"
# internal/eval is left out: it only drives the model, and under the race
# detector its LAMBADA and tokenizer-stream checks take minutes.
go test -count=1 -timeout 15m -race -short -tags purego $(go list ./internal/... | grep -v /internal/eval)

step "cross-compile"
for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
  GOOS=${target%/*} GOARCH=${target#*/} go build -o /dev/null ./cmd/rwkv-chat
  echo "built $target"
done
GOOS=linux GOARCH=arm64 go vet ./internal/kernels/

step "arm64 under qemu"
# Go binaries can hang under qemu-user (golang/go#70329, #67355): each run is
# bounded, prints where it stood when the bound hit, and a run that timed
# out (not one that failed) gets one retry.
qemu_test() { # dir binary args...
  local dir=$1 bin=$2 log rc attempt
  shift 2
  log=$(mktemp)
  for attempt in 1 2; do
    rc=0
    (cd "$dir" && timeout -k 15s $((QEMU_TIMEOUT + 60)) qemu-aarch64 -cpu max "$bin" -test.count=1 -test.timeout "${QEMU_TIMEOUT}s" "$@") >"$log" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ]; then tail -3 "$log"; rm -f "$log"; return 0; fi
    if grep -q -- '--- FAIL' "$log" || ! { [ "$rc" -ge 124 ] || grep -q 'test timed out' "$log"; }; then
      head -200 "$log"; rm -f "$log"; return "$rc"
    fi
    echo "$(basename "$bin") timed out under qemu (attempt $attempt, exit $rc); where it stood:"
    if grep -q 'test timed out' "$log"; then
      { grep -A 8 'test timed out' "$log" | head -12; } || true
      { grep -B 1 -A 1 'rwkv-chat/internal/' "$log" | head -80; } || true
    else
      tail -40 "$log"
    fi
  done
  rm -f "$log"
  return 1
}
if command -v qemu-aarch64 >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  # The kernels in full; the model's reference tests (emulation is slow).
  GOOS=linux GOARCH=arm64 go test -c -o "$tmp/kernels.test" ./internal/kernels/
  qemu_test internal/kernels "$tmp/kernels.test" -test.short
  GOOS=linux GOARCH=arm64 go test -c -o "$tmp/model.test" ./internal/model/
  RWKV_TESTDATA="$RWKV_TESTDATA" qemu_test internal/model "$tmp/model.test" -test.short \
    -test.run 'TestTinyExpectedLogits|TestFixtures|TestForwardAllocs'
  rm -rf "$tmp"
else
  echo "qemu-aarch64 not installed: arm64 tests skipped (apt-get install qemu-user)"
fi

step "fuzz targets, $FUZZTIME each"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $target"
    # A crash is saved under testdata/fuzz and fails the retry too; the
    # retry only forgives a fuzzing worker that died for other reasons.
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s -timeout 5m "$pkg" >/tmp/fuzz.$$.log 2>&1; then
      tail -20 /tmp/fuzz.$$.log
      echo "retrying $target once"
      go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s -timeout 5m "$pkg"
    fi
  done
done
echo
echo "all tests passed"
