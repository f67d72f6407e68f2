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
go test -count=1 -race -short -tags purego ./internal/...

step "cross-compile"
for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
  GOOS=${target%/*} GOARCH=${target#*/} go build -o /dev/null ./cmd/rwkv-chat
  echo "built $target"
done
GOOS=linux GOARCH=arm64 go vet ./internal/kernels/

step "arm64 under qemu"
if command -v qemu-aarch64 >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  for pkg in kernels model; do
    GOOS=linux GOARCH=arm64 go test -c -o "$tmp/$pkg.test" ./internal/$pkg/
    (cd internal/$pkg && RWKV_TESTDATA="$RWKV_TESTDATA" qemu-aarch64 -cpu max "$tmp/$pkg.test" -test.short -test.count=1)
  done
  rm -rf "$tmp"
else
  echo "qemu-aarch64 not installed: arm64 tests skipped (apt-get install qemu-user)"
fi

step "fuzz targets, $FUZZTIME each"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $target"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s "$pkg" >/dev/null
  done
done
echo
echo "all tests passed"
