#!/usr/bin/env bash
# Runs upstream's own ssh tests on the patched code: the release named in
# third_party/golang.org/x/crypto/UPSTREAM_VERSION, whole and with its tests,
# in a temporary directory, with our patches applied. Then upstream's chacha20
# and poly1305 tests (and ours from the patches), natively and under
# GOOS=js GOARCH=wasm with node, where patches 0007 and 0008 change the code.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(cat third_party/golang.org/x/crypto/UPSTREAM_VERSION)
src=$(go mod download -json "golang.org/x/crypto@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/." "$tmp/"
chmod -R u+w "$tmp"
for p in third_party/patches/x-crypto-*.patch; do
	patch -d "$tmp" -p1 --no-backup-if-mismatch --quiet < "$p"
done
# Under the race detector: the patches share buffers and windows between
# the mux loop, the channels' readers and writers and the key exchange.
(cd "$tmp" && go test -race -count=1 ./ssh/...)
(cd "$tmp" && go test -count=1 ./chacha20 ./internal/poly1305)
(cd "$tmp" && GOOS=js GOARCH=wasm go test -count=1 -exec="$(go env GOROOT)/lib/wasm/go_js_wasm_exec" ./chacha20 ./internal/poly1305)
