#!/usr/bin/env bash
# Re-creates third_party/golang.org/x/crypto from an upstream release and
# re-applies our patches (third_party/patches/x-crypto-*.patch) to it.
#
#   third_party/update-x-crypto.sh v0.59.0
#
# Take every new x/crypto release this way (security fixes ship often): the
# script fails loudly if a patch no longer applies, and then the patch is
# redone against the new release. Afterwards: go mod tidy, make test.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: $0 VERSION (e.g. v0.59.0)}
dest=third_party/golang.org/x/crypto
src=$(go mod download -json "golang.org/x/crypto@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "update-x-crypto: no module directory for $version" >&2; exit 1; }
rm -rf "$dest"
mkdir -p "$dest"
# The module's sources without its tests, except ssh's own tests, so that
# the patched package's upstream test suite can run (cd $dest && go test ./ssh/).
(cd "$src" && find . -type f \( -name '*.go' -o -name '*.s' -o -name go.mod -o -name go.sum -o -name LICENSE -o -name PATENTS \) \
	\( -not -name '*_test.go' -o -path './ssh/*_test.go' \) \( -not -path '*/testdata/*' -o -path './ssh/testdata/*' \) -not -path './ssh/test/*' -print0) |
	(cd "$src" && xargs -0 cp --parents -t "$OLDPWD/$dest")
chmod -R u+w "$dest"
echo "$version" > "$dest/UPSTREAM_VERSION"
for p in third_party/patches/x-crypto-*.patch; do
	echo "update-x-crypto: applying $p" >&2
	patch -d "$dest" -p1 --no-backup-if-mismatch < "$p"
done
echo "update-x-crypto: $dest is x/crypto $version with $(ls third_party/patches/x-crypto-*.patch | wc -l) patch(es)" >&2
