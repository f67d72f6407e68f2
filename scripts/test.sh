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
go test -count=1 -race -short -tags purego $(go list ./internal/... | grep -v /internal/eval)

step "cross-compile"
for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
  GOOS=${target%/*} GOARCH=${target#*/} go build -o /dev/null ./cmd/rwkv-chat
  echo "built $target"
done
GOOS=linux GOARCH=arm64 go vet ./internal/kernels/

step "arm64 under qemu"
if command -v qemu-aarch64 >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  # The kernels in full; the model's reference tests (emulation is slow).
  GOOS=linux GOARCH=arm64 go test -c -o "$tmp/kernels.test" ./internal/kernels/
  (cd internal/kernels && qemu-aarch64 -cpu max "$tmp/kernels.test" -test.short -test.count=1)
  GOOS=linux GOARCH=arm64 go test -c -o "$tmp/model.test" ./internal/model/
  (cd internal/model && RWKV_TESTDATA="$RWKV_TESTDATA" qemu-aarch64 -cpu max "$tmp/model.test" -test.short -test.count=1 \
    -test.run 'TestTinyExpectedLogits|TestFixtures|TestForwardAllocs')
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
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s "$pkg" >/tmp/fuzz.$$.log 2>&1; then
      tail -20 /tmp/fuzz.$$.log
      echo "retrying $target once"
      go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s "$pkg"
    fi
  done
done
echo
echo "all tests passed"
