#!/usr/bin/env bash
# Installs the system tools the tests need, only where they are missing:
# OpenSSH client and server, squid (the proxy the e2e tests go through, with
# its basic_ncsa_auth helper), pebble (the ACME test server), haproxy (the
# load balancer in front), redis-server (the cluster's shared store) and Chromium from Debian's packages. Never
# downloads a prebuilt binary or browser.
set -euo pipefail

need=()
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v patch >/dev/null 2>&1 || need+=(patch) # third_party/test-x-crypto.sh
{ [ -x /usr/sbin/squid ] && [ -x /usr/lib/squid/basic_ncsa_auth ]; } || need+=(squid)
command -v pebble >/dev/null 2>&1 || need+=(pebble)
[ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ "${TUBEGATE_NO_BROWSER:-}" = "" ]; then
	command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
	sudo="sudo"
fi
echo "install-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# With recommends: the tests ran against Chromium installed this way (fonts included).
$sudo apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${need[@]}" >/dev/null
