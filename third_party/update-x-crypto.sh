#!/usr/bin/env bash
# Re-creates third_party/golang.org/x/crypto from an upstream release and
# re-applies our patches (third_party/patches/x-crypto-*.patch) to it.
#
#   third_party/update-x-crypto.sh v0.59.0
#
# Take every new x/crypto release this way (security fixes ship often): the
# script fails loudly if a patch no longer applies, and then the patch is
# redone against the new release. Afterwards: go mod tidy,
# third_party/test-x-crypto.sh (upstream's ssh tests on the patched code),
# make test.
#
# Only the packages the gateway, its tests and the Wasm client import are
# kept (PACKAGES below), without upstream's tests; a package newly imported
# (ssh/agent for a native client, say) is added to the list.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: $0 VERSION (e.g. v0.59.0)}
PACKAGES="acme acme/autocert bcrypt blowfish chacha20 chacha20poly1305 cryptobyte cryptobyte/asn1 curve25519 internal/alias internal/poly1305 ssh ssh/agent ssh/internal/bcrypt_pbkdf ssh/knownhosts"
dest=third_party/golang.org/x/crypto
src=$(go mod download -json "golang.org/x/crypto@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "update-x-crypto: no module directory for $version" >&2; exit 1; }
# The patches are applied to the whole release, its tests included (a patch
# may change one of upstream's tests: 0022), and then the packages are
# copied without upstream's tests but with the tests the patches add.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/." "$tmp/"
chmod -R u+w "$tmp"
for p in third_party/patches/x-crypto-*.patch; do
	echo "update-x-crypto: applying $p" >&2
	patch -d "$tmp" -p1 --no-backup-if-mismatch --quiet < "$p"
done
rm -rf "$dest"
mkdir -p "$dest"
cp "$src/go.mod" "$src/go.sum" "$src/LICENSE" "$src/PATENTS" "$dest/"
for p in $PACKAGES; do
	mkdir -p "$dest/$p"
	for f in "$tmp/$p"/*.go "$tmp/$p"/*.s; do
		[ -f "$f" ] || continue
		name=$(basename "$f")
		case "$name" in
		*_test.go) [ -e "$src/$p/$name" ] && continue ;; # upstream's own test
		esac
		cp "$f" "$dest/$p/"
	done
done
chmod -R u+w "$dest"
echo "$version" > "$dest/UPSTREAM_VERSION"
echo "update-x-crypto: $dest is x/crypto $version ($PACKAGES) with $(ls third_party/patches/x-crypto-*.patch | wc -l) patch(es)" >&2
