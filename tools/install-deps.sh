#!/usr/bin/env bash
# Install what amid's build and tests need on Debian 12, as root.
# Does nothing (no apt-get at all) when everything is already there; runs
# 'apt-get update' once, then one 'apt-get install', only for what is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive

packages=(
  build-essential autoconf automake libtool pkg-config   # toolchain
  libglib2.0-dev libconfig-dev libsystemd-dev libsoup-3.0-dev           # libraries amid links
  glib-networking openssl                                 # TLS (GIO backend; test certificates)
  libgtest-dev googletest                                 # unit tests (make check)
  python3 python3-panoramisk                              # integration + conformance
  netcat-openbsd valgrind
)

installed() {  # installed PKG: dpkg knows it as installed
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
# Node.js and npm: NodeSource's nodejs package carries npm itself and
# conflicts with Debian's npm package, so look for the commands.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (or install those packages) first" >&2
  exit 1
fi
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
