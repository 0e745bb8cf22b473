#!/usr/bin/env bash
# Out-of-tree module test: what a third-party module author does.
#
#   tests/sdk/test_out_of_tree.sh
#
# 1. Configures amid with --prefix=<temp>/prefix in a separate build
#    directory and runs `make install` there.  The source is this tree when it
#    is not configured in place (a release tarball, `make distcheck`);
#    otherwise a `make distdir` copy of it (so the tarball contents are tested
#    too).  Nothing is written outside the temporary directory.
# 2. Builds the installed example (share/doc/amid/examples/mod_example.c)
#    with nothing but
#      cc $(PKG_CONFIG_PATH=<prefix>/lib/pkgconfig pkg-config --cflags --libs amid) \
#         -shared -fPIC -o mod_example.so mod_example.c
# 3. Starts the installed sbin/amid with a modules directory holding the
#    installed mod_core.so and mod_modules.so (loaded at start) and
#    mod_example.so (not loaded), and drives it with tests/sdk/oot_session.py:
#    ModuleLoad, ExampleEcho, ExampleCount, ExampleTick, unload, ListCommands.
#
# Prints PASS/FAIL/SKIP lines and a final 'N passed, N failed, N skipped'
# line; exit status 1 when anything failed (77 when everything was skipped).
# AMID_KEEP_TMP=1 keeps the temporary directory; $CC picks the compiler.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/../.." && pwd)"
CC="${CC:-cc}"
PYTHON="${PYTHON:-/usr/bin/python3}"
TICK=1

pass=0 fail=0 skip=0
tmp="$(mktemp -d "${TMPDIR:-/tmp}/amid-oot.XXXXXX")"
daemon_pid=""

cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -KILL "$daemon_pid" 2>/dev/null
    wait "$daemon_pid" 2>/dev/null
  fi
  if [ "${AMID_KEEP_TMP:-0}" = 1 ]; then
    echo "# kept $tmp"
  else
    chmod -R u+w "$tmp" 2>/dev/null
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "PASS $1"; }
# ko NAME [LOGFILE]: a failure, with the tail of LOGFILE indented below it.
ko() {
  fail=$((fail + 1))
  echo "FAIL $1"
  if [ -n "${2:-}" ] && [ -f "$2" ]; then tail -n 25 "$2" | sed 's/^/    /'; fi
}
sk() { skip=$((skip + 1)); echo "SKIP $1: $2"; }

finish() {
  echo "$pass passed, $fail failed, $skip skipped"
  if [ "$fail" -gt 0 ]; then exit 1; fi
  if [ "$pass" -eq 0 ]; then exit 77; fi
  exit 0
}

for tool in make pkg-config "$CC" "$PYTHON"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    sk "out-of-tree module test" "'$tool' not found"
    finish
  fi
done

# A nested make must not inherit the settings of a `make check` around us.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES DESTDIR
jobs="$(nproc 2>/dev/null || echo 2)"
prefix="$tmp/prefix"

# ------------------------------------------------------------ 1. install
if [ -f "$src/config.status" ] || [ ! -x "$src/configure" ]; then
  # Configured in place (a VPATH build from it is refused) or no configure
  # script yet: build from a `make distdir` copy instead.
  if [ ! -f "$src/Makefile" ]; then
    sk "out-of-tree module test" "$src has no configure script and no Makefile (run autoreconf -fi && ./configure)"
    finish
  fi
  if make -C "$src" -s distdir distdir="$tmp/src" >"$tmp/distdir.log" 2>&1; then
    ok "make distdir (source copy for a clean build)"
  else
    ko "make distdir (source copy for a clean build)" "$tmp/distdir.log"
    finish
  fi
  srcdir="$tmp/src"
else
  srcdir="$src"
fi

mkdir -p "$tmp/build"
# The systemd unit goes under the prefix too, never into the system's
# unit directory (the default).
if (cd "$tmp/build" && "$srcdir/configure" --prefix="$prefix" \
  --with-systemdsystemunitdir="$prefix/lib/systemd/system") >"$tmp/configure.log" 2>&1; then
  ok "configure --prefix=<temp>/prefix"
else
  ko "configure --prefix=<temp>/prefix" "$tmp/configure.log"
  finish
fi
if make -C "$tmp/build" -j"$jobs" install >"$tmp/install.log" 2>&1; then
  ok "make install into the temporary prefix"
else
  ko "make install into the temporary prefix" "$tmp/install.log"
  finish
fi

missing=""
for f in sbin/amid lib/amid/modules/mod_core.so lib/amid/modules/mod_modules.so \
  include/amid/amid.h include/amid/module.h include/amid/manager.h \
  include/amid/datastore.h include/amid/hook.h include/amid/asterisk-compat.h \
  lib/pkgconfig/amid.pc etc/amid/amid.conf etc/amid/amid.conf.sample \
  lib/systemd/system/amid.service share/man/man8/amid.8 \
  share/man/man5/amid.conf.5 share/man/man1/amictl.1 \
  share/doc/amid/writing-modules.md share/doc/amid/examples/mod_example.c \
  share/doc/amid/examples/README.md; do
  [ -e "$prefix/$f" ] || missing="$missing $f"
done
if [ -z "$missing" ]; then
  ok "installed: daemon, modules, SDK headers, amid.pc, sample config, docs, unit, man pages"
else
  ko "installed files missing:$missing"
fi

unit="$prefix/lib/systemd/system/amid.service"
if [ -f "$unit" ] && grep -q "^ExecStart=$prefix/sbin/amid -c $prefix/etc/amid/amid.conf\$" "$unit" &&
  ! grep -q '@[a-z]*@' "$unit"; then
  ok "installed amid.service names the installed amid and amid.conf"
else
  echo "ExecStart: $(grep '^ExecStart=' "$unit" 2>&1)" >"$tmp/unit.log"
  ko "installed amid.service names the installed amid and amid.conf" "$tmp/unit.log"
fi

if "$prefix/sbin/amid" -t -c "$prefix/etc/amid/amid.conf" >"$tmp/conf-check.log" 2>&1 &&
  grep -q "directory = \"$prefix/lib/amid/modules\"" "$prefix/etc/amid/amid.conf"; then
  ok "installed amid.conf is valid and names the installed modules directory"
else
  ko "installed amid.conf is valid and names the installed modules directory" "$tmp/conf-check.log"
fi

# ------------------------------------------------------------ 2. build the module
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
mkdir -p "$tmp/oot"
cp "$prefix/share/doc/amid/examples/mod_example.c" "$tmp/oot/" 2>/dev/null ||
  cp "$src/sdk/examples/mod_example.c" "$tmp/oot/"
if pc_flags="$(pkg-config --cflags --libs amid 2>"$tmp/pkg-config.log")"; then
  ok "pkg-config --cflags --libs amid: $pc_flags"
else
  ko "pkg-config --cflags --libs amid" "$tmp/pkg-config.log"
  finish
fi
case " $pc_flags " in
  *" -I$prefix/include "*) ok "pkg-config points at the installed headers" ;;
  *) ko "pkg-config points at the installed headers (got: $pc_flags)" ;;
esac
# The one documented command, word for word (pc_flags unquoted on purpose).
# shellcheck disable=SC2086
if (cd "$tmp/oot" && "$CC" $(pkg-config --cflags --libs amid) -shared -fPIC \
  -o mod_example.so mod_example.c) >"$tmp/cc.log" 2>&1; then
  if [ -s "$tmp/cc.log" ]; then
    ko "cc builds mod_example.so out of tree without any diagnostics" "$tmp/cc.log"
  else
    ok "cc \$(pkg-config --cflags --libs amid) -shared -fPIC builds mod_example.so"
  fi
else
  ko "cc \$(pkg-config --cflags --libs amid) -shared -fPIC builds mod_example.so" "$tmp/cc.log"
  finish
fi
if command -v nm >/dev/null 2>&1; then
  syms="$(nm -D --defined-only "$tmp/oot/mod_example.so" |
    awk '$2 ~ /^[A-Za-z]$/ && $2 != "A" { print $3 }' | sort | tr '\n' ' ')"
  if [ "$syms" = "ami_module_info " ]; then
    ok "mod_example.so exports only ami_module_info (-fvisibility=hidden from amid.pc)"
  else
    ko "mod_example.so exports only ami_module_info (exports: $syms)"
  fi
else
  sk "mod_example.so exports only ami_module_info" "no nm"
fi

# ------------------------------------------------------------ 3. run it
mods="$tmp/modules"
mkdir -p "$mods"
cp "$prefix/lib/amid/modules/mod_core.so" "$prefix/lib/amid/modules/mod_modules.so" \
  "$tmp/oot/mod_example.so" "$mods/"
cat >"$tmp/amid.conf" <<EOF
# generated by tests/sdk/test_out_of_tree.sh
general = {
  enabled = true;
  bindaddr = "127.0.0.1";
  port = 0;
  authfaildelay = 100;
};
modules = {
  directory = "$mods";
  autoload = false;
  load = [ "mod_core.so", "mod_modules.so" ];
};
users = (
  { username = "admin"; secret = "amp111"; read = "all"; write = "all"; }
);
EOF

AMID_EXAMPLE_TICK=$TICK "$prefix/sbin/amid" -f -c "$tmp/amid.conf" >"$tmp/amid.log" 2>&1 &
daemon_pid=$!
port=""
for _ in $(seq 1 100); do
  port="$(sed -n 's/.*Manager listening on .*:\([0-9][0-9]*\)$/\1/p' "$tmp/amid.log" | head -n 1)"
  if [ -n "$port" ] && grep -q "fully booted" "$tmp/amid.log"; then break; fi
  port=""
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -n "$port" ]; then
  ok "installed amid started (port $port)"
else
  ko "installed amid started" "$tmp/amid.log"
  finish
fi

"$PYTHON" "$here/oot_session.py" 127.0.0.1 "$port" "$tmp/amid.log" "$TICK" >"$tmp/session.out" 2>&1
cat "$tmp/session.out"
p=$(grep -c '^PASS ' "$tmp/session.out")
f=$(grep -c '^FAIL ' "$tmp/session.out")
s=$(grep -c '^SKIP ' "$tmp/session.out")
pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
  ko "oot_session.py reported nothing"
fi

kill -TERM "$daemon_pid" 2>/dev/null
rc=""
for _ in $(seq 1 50); do
  if ! kill -0 "$daemon_pid" 2>/dev/null; then
    wait "$daemon_pid"
    rc=$?
    break
  fi
  sleep 0.1
done
if [ "$rc" = 0 ]; then
  daemon_pid=""
  ok "amid exits 0 on SIGTERM"
else
  ko "amid exits 0 on SIGTERM (status ${rc:-still running})" "$tmp/amid.log"
fi
if [ "$fail" -gt 0 ]; then
  echo "# daemon log:"
  sed 's/^/    /' "$tmp/amid.log" | tail -n 40
fi

finish
