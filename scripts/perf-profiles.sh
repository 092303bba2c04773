#!/bin/sh
# Regenerates the CPU profiles of docs/perf/: the gateway and `gateway
# connect` (resumable, the default, and --no-resume) during one bulk stream
# through `ssh -R` over the WebSocket, aes128-gcm, as tubebench measures it.
# Needs graphviz's dot for the SVGs (apt-get install graphviz).
#
#   scripts/perf-profiles.sh [OUTDIR]     # default docs/perf
set -eu
out=${1:-docs/perf}
command -v dot >/dev/null || { echo "perf-profiles: graphviz's dot is needed (apt-get install graphviz)" >&2; exit 1; }
go build -o bin/gateway ./cmd/gateway
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
for mode in resume no-resume; do
	flags=""
	[ "$mode" = no-resume ] && flags="--connect-flag=--no-resume"
	mkdir -p "$tmp/$mode"
	go run ./cmd/tubebench --gateway bin/gateway --figures bulk --duration 5s \
		--ciphers aes128-gcm@openssh.com --paths '^gw-websocket-openssh-' \
		--tubes 0 --browser-runs 0 --recovery-runs 0 --scale-streams 0 --scale-tubes 0 --cluster=false \
		--profile "$tmp/$mode" $flags --connect-flag="--cpuprofile=$tmp/$mode/connect.pprof" --connect-flag=--cpuprofile-for=5s \
		>"$tmp/$mode/table.md"
	cp "$tmp/$mode/connect.pprof" "$out/connect-$mode.pprof"
	go tool pprof -svg -output "$out/connect-$mode.svg" bin/gateway "$out/connect-$mode.pprof"
	go tool pprof -top -cum -nodecount 40 bin/gateway "$out/connect-$mode.pprof" >"$out/connect-$mode.top.txt"
	if [ "$mode" = resume ]; then
		g="$out/gateway.pprof"
		cp "$tmp/$mode/gw-websocket-openssh-aes128-gcm.bulk.gateway.pprof" "$g"
		go tool pprof -svg -output "$out/gateway.svg" bin/gateway "$g"
		go tool pprof -top -cum -nodecount 40 bin/gateway "$g" >"$out/gateway.top.txt"
	fi
	grep -E '^\| (gateway WS|OpenSSH ssh -L)' "$tmp/$mode/table.md" | tee "$out/cpu-$mode.md" || true
done
