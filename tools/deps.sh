#!/bin/sh
# Installs the Debian 12 packages caja needs to build, test and run its demo,
# when any is missing. Needs root (or sudo) only when something is missing.
set -eu

PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev
libzmq3-dev libavahi-client-dev liblmdb-dev lmdb-utils libmsgpack-dev
libsodium-dev libjansson-dev libcriterion-dev libcurl4-openssl-dev
libmicrohttpd-dev libpq-dev avahi-daemon avahi-utils dbus postgresql
iproute2 iputils-ping nftables python3 procps"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
