#!/usr/bin/env bash
# Install the third-party AMI clients that the conformance drivers run:
#   python3-panoramisk (Debian; used with /usr/bin/python3),
#   npm asterisk-manager@0.2.0 and asterisk-ami-client@1.1.5 into
#   tests/conformance/node_modules (pinned in tests/conformance/package.json,
#   transitive dependencies pinned by package-lock.json).
# Idempotent: does nothing (and touches no network) when all are present.
# Needs root only when an apt package is missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
export DEBIAN_FRONTEND=noninteractive

apt_updated=no
apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-clients.sh: need root to apt-get install $*" >&2
    exit 1
  fi
  if [ "$apt_updated" = no ]; then
    apt-get update -q
    apt_updated=yes
  fi
  apt-get install -y -q --no-install-recommends "$@"
}

# --- Python: Debian's panoramisk, imported by Debian's own interpreter.
if ! /usr/bin/python3 -c 'import panoramisk' >/dev/null 2>&1; then
  apt_install python3-panoramisk
fi

# --- Node.js and npm (NodeSource's nodejs ships npm itself; Debian's does not).
missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}"
fi

# --- npm packages, pinned; skip npm entirely when the right versions are present.
have_version() {  # have_version NAME VERSION
  node -e '
    const [name, want] = process.argv.slice(1);
    try {
      const v = require(require("path").join(process.cwd(), "node_modules", name, "package.json")).version;
      process.exit(v === want ? 0 : 1);
    } catch (e) { process.exit(1); }' "$1" "$2"
}
if have_version asterisk-manager 0.2.0 && have_version asterisk-ami-client 1.1.5; then
  echo "install-clients.sh: all clients present"
  exit 0
fi
npm install --prefix "$here" --no-audit --no-fund --loglevel=error
if ! { have_version asterisk-manager 0.2.0 && have_version asterisk-ami-client 1.1.5; }; then
  echo "install-clients.sh: npm install did not produce the pinned versions" >&2
  exit 1
fi
echo "install-clients.sh: installed asterisk-manager@0.2.0 asterisk-ami-client@1.1.5 in $here/node_modules"
