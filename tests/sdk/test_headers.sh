#!/usr/bin/env bash
# SDK header check: every sdk/include/amid/*.h compiles on its own, as C11 and
# as C++17, with warnings as errors; the SDK example module compiles cleanly
# as C11 against the same headers.
#
#   tests/sdk/test_headers.sh
#
# Uses $CC (default cc) and $CXX (default c++), and pkg-config for GLib's
# flags.  Prints a PASS/FAIL/SKIP line per check and a final
# 'N passed, N failed, N skipped' line; exits 1 when a check failed (77 when
# everything was skipped, for automake's test harness).
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/../.." && pwd)"
inc="$src/sdk/include"
CC="${CC:-cc}"
CXX="${CXX:-c++}"

pass=0 fail=0 skip=0
tmp="$(mktemp -d "${TMPDIR:-/tmp}/amid-headers.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; sed 's/^/    /' "$tmp/out" | head -20; }
sk() { skip=$((skip + 1)); echo "SKIP $1: $2"; }

finish() {
  echo "$pass passed, $fail failed, $skip skipped"
  if [ "$fail" -gt 0 ]; then exit 1; fi
  if [ "$pass" -eq 0 ]; then exit 77; fi
  exit 0
}

if ! glib_cflags="$(pkg-config --cflags glib-2.0 2>"$tmp/out")"; then
  sk "headers" "pkg-config glib-2.0 failed: $(cat "$tmp/out")"
  finish
fi

have_cxx=yes
command -v "$CXX" >/dev/null 2>&1 || have_cxx=no

for h in "$inc"/amid/*.h; do
  name="amid/$(basename "$h")"
  printf '#include <%s>\n' "$name" >"$tmp/t.c"
  # Twice: the include guard must make a second inclusion harmless.
  printf '#include <%s>\n#include <%s>\n' "$name" "$name" >"$tmp/t2.c"

  # shellcheck disable=SC2086
  if "$CC" -std=c11 -Wall -Wextra -Werror -I"$inc" $glib_cflags \
      -c "$tmp/t.c" -o "$tmp/t.o" >"$tmp/out" 2>&1; then
    ok "$name alone as C11"
  else
    ko "$name alone as C11"
  fi
  # shellcheck disable=SC2086
  if "$CC" -std=c11 -Wall -Wextra -Werror -I"$inc" $glib_cflags \
      -c "$tmp/t2.c" -o "$tmp/t.o" >"$tmp/out" 2>&1; then
    ok "$name included twice as C11"
  else
    ko "$name included twice as C11"
  fi
  if [ "$have_cxx" = no ]; then
    sk "$name alone as C++17" "no C++ compiler ($CXX)"
    continue
  fi
  cp "$tmp/t.c" "$tmp/t.cc"
  # shellcheck disable=SC2086
  if "$CXX" -std=c++17 -Wall -Wextra -Werror -I"$inc" $glib_cflags \
      -c "$tmp/t.cc" -o "$tmp/t.o" >"$tmp/out" 2>&1; then
    ok "$name alone as C++17"
  else
    ko "$name alone as C++17"
  fi
done

# The example module: strict C11, warnings as errors, exports one symbol.
# shellcheck disable=SC2086
if "$CC" -std=c11 -Wall -Wextra -Werror -Wmissing-prototypes \
    -Wstrict-prototypes -fvisibility=hidden -shared -fPIC -I"$inc" \
    $glib_cflags -o "$tmp/mod_example.so" "$src/sdk/examples/mod_example.c" \
    >"$tmp/out" 2>&1; then
  ok "sdk/examples/mod_example.c builds as C11 with -Wall -Wextra -Werror"
  if command -v nm >/dev/null 2>&1; then
    nm -D --defined-only "$tmp/mod_example.so" 2>"$tmp/out" |
      awk '$2 ~ /^[A-Za-z]$/ && $2 != "A" { print $3 }' | sort >"$tmp/syms"
    if [ "$(cat "$tmp/syms")" = "ami_module_info" ]; then
      ok "mod_example.so exports only ami_module_info"
    else
      { echo "exported:"; cat "$tmp/syms"; } >"$tmp/out"
      ko "mod_example.so exports only ami_module_info"
    fi
  else
    sk "mod_example.so exports only ami_module_info" "no nm"
  fi
else
  ko "sdk/examples/mod_example.c builds as C11 with -Wall -Wextra -Werror"
fi

finish
