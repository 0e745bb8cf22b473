#!/usr/bin/env bash
# Build amid in the source tree: dependencies, then configure (only when there
# is no Makefile yet) and make.  Any extra arguments go to ./configure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tools/install-deps.sh
if [ ! -f Makefile ] || [ ! -x config.status ]; then
  autoreconf -fi
  ./configure "$@"
fi
# make reruns autoconf/automake/config.status itself when their inputs change.
make -j"$(nproc)"
