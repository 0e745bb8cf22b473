#!/usr/bin/env bash
# Debian packaging test: build the .debs, install them, run what they installed.
#
#   tests/package/test_deb.sh
#
# 1. Copies the tree's files (git ls-files: tracked, plus new files not yet
#    committed that .gitignore does not exclude; never build products) into
#    a temporary directory, installs the Build-Depends that are missing
#    (dpkg-checkbuilddeps, then apt-get), and runs
#    `dpkg-buildpackage -us -uc -b` there: configure, make, make check, the
#    packages amid and amid-dev.
# 2. Checks the packages' contents (daemon, modules, tools, conffile, unit,
#    man pages; headers and amid.pc) and runs lintian when it is there.
# 3. `apt-get install -y ./amid_*.deb ./amid-dev_*.deb`: the amid user and
#    group exist, amid.conf is root:amid 0640, the unit is installed and
#    enabled.
# 4. Builds the SDK example against the installed headers with
#    `cc $(pkg-config --cflags --libs amid) -shared -fPIC`.
# 5. Starts the installed /usr/sbin/amid in the foreground with the installed
#    /etc/amid/amid.conf, as user amid (what the unit does; systemd is not
#    needed), on port 5038 or, when that is taken, a copy of the config with
#    a free port.  A client logs in as the demo user and pings; the example
#    module is loaded into it and answers; amictl talks to it; SIGTERM ends
#    it with status 0.
# 6. `apt-get purge -y amid amid-dev` and checks nothing is left; the amid
#    user is removed again when this test's install created it.
#
# Must run as root on Debian (apt-get, dpkg); skips itself otherwise, and
# when amid or amid-dev is already installed (it would replace and purge
# them).  Takes a few minutes (the package build runs `make check`):
# TEST_DEB_NOCHECK=1 builds with DEB_BUILD_OPTIONS=nocheck.
# AMID_KEEP_TMP=1 keeps the temporary directory (build log, .debs).
#
# Prints PASS/FAIL/SKIP lines and a final 'N passed, N failed, N skipped'
# line; exit status 1 when anything failed (77 when everything was skipped).
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/../.." && pwd)"
PYTHON="${PYTHON:-/usr/bin/python3}"
export DEBIAN_FRONTEND=noninteractive

pass=0 fail=0 skip=0
started=$(date +%s)
tmp="$(mktemp -d "${TMPDIR:-/tmp}/amid-deb.XXXXXX")"
daemon_pid=""
installed_by_us=0
user_existed=0
run_amid_created=0
example_installed=""

ok() { pass=$((pass + 1)); echo "PASS $1"; }
# ko NAME [LOGFILE]: a failure, with the tail of LOGFILE indented below it.
ko() {
  fail=$((fail + 1))
  echo "FAIL $1"
  if [ -n "${2:-}" ] && [ -f "$2" ]; then tail -n "${3:-25}" "$2" | sed 's/^/    /'; fi
}
sk() { skip=$((skip + 1)); echo "SKIP $1: $2"; }

stop_daemon() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -KILL "$daemon_pid" 2>/dev/null
    wait "$daemon_pid" 2>/dev/null
  fi
  daemon_pid=""
}

# Leave the machine as it was: no daemon, no example module, no packages,
# no amid user created by us.  Runs at the end and on any early exit.
cleanup() {
  stop_daemon
  if [ -n "$example_installed" ]; then rm -f "$example_installed"; fi
  if [ "$installed_by_us" = 1 ]; then
    apt-get purge -y -q amid amid-dev >"$tmp/purge-trap.log" 2>&1
  fi
  if [ "$user_existed" = 0 ] && getent passwd amid >/dev/null 2>&1; then
    deluser --system --quiet amid >/dev/null 2>&1
    getent group amid >/dev/null 2>&1 && delgroup --system --quiet amid >/dev/null 2>&1
  fi
  if [ "$run_amid_created" = 1 ]; then rm -rf /run/amid; fi
  if [ "${AMID_KEEP_TMP:-0}" = 1 ]; then
    echo "# kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

finish() {
  echo "# $(($(date +%s) - started)) s"
  echo "$pass passed, $fail failed, $skip skipped"
  if [ "$fail" -gt 0 ]; then exit 1; fi
  if [ "$pass" -eq 0 ]; then exit 77; fi
  exit 0
}

# ------------------------------------------------------------ 0. can we?
if [ "$(id -u)" -ne 0 ]; then
  sk "Debian packaging test" "needs root (apt-get install, dpkg)"
  finish
fi
for tool in apt-get dpkg git "$PYTHON"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    sk "Debian packaging test" "'$tool' not found (not a Debian system with git?)"
    finish
  fi
done
if ! git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  sk "Debian packaging test" "$src is not a git checkout (the file list comes from git)"
  finish
fi
for p in amid amid-dev; do
  if dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
    sk "Debian packaging test" "package $p is already installed: this test would replace and purge it"
    finish
  fi
done
getent passwd amid >/dev/null 2>&1 && user_existed=1

# A nested make must not inherit the settings of a `make check` around us.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES DESTDIR

# apt_install LOG PACKAGE...: apt-get install, with one `apt-get update`
# first when the package lists do not know a package yet.
apt_install() {
  local log="$1"
  shift
  if ! apt-get install -y -q --no-install-recommends "$@" >"$log" 2>&1; then
    apt-get update -q >>"$log" 2>&1
    apt-get install -y -q --no-install-recommends "$@" >>"$log" 2>&1
  fi
}

# ------------------------------------------------------------ 1. build
version="$(sed -n 's/^AC_INIT(\[amid\], \[\([^]]*\)\].*/\1/p' "$src/configure.ac")"
work="$tmp/build/amid-${version:-0}"
mkdir -p "$work"
# Tracked files and new ones .gitignore does not exclude; a tracked file
# deleted in the work tree is left out.  No build product comes along.
if (cd "$src" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf -) | tar -xf - -C "$work" 2>"$tmp/copy.log"; then
  ok "copied $(cd "$work" && find . -type f | wc -l) files listed by git ls-files"
else
  ko "copy the tree's files" "$tmp/copy.log"
  finish
fi
if [ ! -f "$work/debian/control" ]; then
  ko "debian/control is in the tree"
  finish
fi

if ! command -v dpkg-checkbuilddeps >/dev/null 2>&1 || ! command -v dpkg-buildpackage >/dev/null 2>&1; then
  apt_install "$tmp/apt-dpkg-dev.log" dpkg-dev
fi
unmet="$(cd "$work" && dpkg-checkbuilddeps 2>&1 | sed -n 's/.*Unmet build dependencies: //p')"
if [ -n "$unmet" ]; then
  # "a (>= 1) | b, c" → the first alternative of each, without versions.
  # shellcheck disable=SC2001
  pkgs="$(echo "$unmet" | sed -e 's/([^)]*)//g' -e 's/|[^,]*//g' -e 's/:any//g' | tr ',' ' ')"
  # shellcheck disable=SC2086
  if apt_install "$tmp/apt-build-deps.log" $pkgs; then
    ok "installed the missing Build-Depends:$(echo " $pkgs" | tr -s ' ')"
  else
    ko "install the missing Build-Depends ($pkgs)" "$tmp/apt-build-deps.log"
    finish
  fi
else
  ok "Build-Depends already installed"
fi
if (cd "$work" && dpkg-checkbuilddeps) >"$tmp/checkbuilddeps.log" 2>&1; then
  ok "dpkg-checkbuilddeps: every Build-Depends satisfied"
else
  ko "dpkg-checkbuilddeps: every Build-Depends satisfied" "$tmp/checkbuilddeps.log"
  finish
fi

dbo="${DEB_BUILD_OPTIONS:-parallel=$(nproc 2>/dev/null || echo 2)}"
if [ "${TEST_DEB_NOCHECK:-0}" = 1 ]; then dbo="$dbo nocheck"; fi
t0=$(date +%s)
if (cd "$work" && DEB_BUILD_OPTIONS="$dbo" dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
  ok "dpkg-buildpackage -us -uc -b ($(($(date +%s) - t0)) s, DEB_BUILD_OPTIONS='$dbo')"
else
  ko "dpkg-buildpackage -us -uc -b" "$tmp/build.log" 60
  finish
fi
if grep -q "nocheck" <<<"$dbo"; then
  sk "make check ran during the build" "DEB_BUILD_OPTIONS has nocheck"
elif grep -qE '^# PASS: +[1-9]' "$tmp/build.log" && grep -qE '^# FAIL: +0' "$tmp/build.log"; then
  ok "make check ran during the build: $(grep -E '^# (TOTAL|PASS|SKIP):' "$tmp/build.log" | tr -s ' ' | paste -sd' ')"
else
  ko "make check ran during the build (no automake test summary in the log)" "$tmp/build.log"
fi

deb="$(ls "$tmp"/build/amid_"${version}"_*.deb 2>/dev/null | head -n 1)"
devdeb="$(ls "$tmp"/build/amid-dev_"${version}"_*.deb 2>/dev/null | head -n 1)"
if [ -f "$deb" ] && [ -f "$devdeb" ]; then
  ok "built $(basename "$deb") and $(basename "$devdeb")"
else
  ls -l "$tmp/build" >"$tmp/ls.log" 2>&1
  ko "built amid_${version}_*.deb and amid-dev_${version}_*.deb" "$tmp/ls.log"
  finish
fi

# ------------------------------------------------------------ 2. contents
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$tmp/amid.files"
dpkg-deb -c "$devdeb" | awk '{print $6}' | sed 's|^\./|/|' >"$tmp/amid-dev.files"
missing=""
for pattern in '^/usr/sbin/amid$' '^/usr/bin/amictl$' '^/usr/bin/amibench$' \
  '^/usr/lib/[^/]*/amid/modules/mod_core\.so$' '^/usr/lib/[^/]*/amid/modules/mod_modules\.so$' \
  '^/etc/amid/amid\.conf$' '^(/usr)?/lib/systemd/system/amid\.service$' \
  '^/usr/share/man/man8/amid\.8\.gz$' '^/usr/share/man/man5/amid\.conf\.5\.gz$' \
  '^/usr/share/man/man1/amictl\.1\.gz$' '^/usr/share/doc/amid/examples/mod_example\.c'; do
  grep -qE "$pattern" "$tmp/amid.files" || missing="$missing $pattern"
done
if [ -z "$missing" ]; then
  ok "amid.deb holds the daemon, modules, amictl, amibench, config, unit, man pages, docs"
else
  ko "amid.deb lacks:$missing" "$tmp/amid.files" 60
fi
if grep -qE '\.la$|amid\.conf\.sample' "$tmp/amid.files"; then
  ko "amid.deb holds no .la files and no amid.conf.sample" "$tmp/amid.files" 60
else
  ok "amid.deb holds no .la files and no amid.conf.sample"
fi
missing=""
for pattern in '^/usr/include/amid/amid\.h$' '^/usr/include/amid/module\.h$' \
  '^/usr/include/amid/manager\.h$' '^/usr/lib/[^/]*/pkgconfig/amid\.pc$'; do
  grep -qE "$pattern" "$tmp/amid-dev.files" || missing="$missing $pattern"
done
if [ -z "$missing" ]; then
  ok "amid-dev.deb holds the SDK headers and amid.pc"
else
  ko "amid-dev.deb lacks:$missing" "$tmp/amid-dev.files" 60
fi
if dpkg-deb -f "$deb" Depends | grep -q adduser &&
  dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles 2>/dev/null | grep -qx /etc/amid/amid.conf; then
  ok "amid.deb: /etc/amid/amid.conf is a conffile; Depends has adduser"
else
  ko "amid.deb: /etc/amid/amid.conf is a conffile; Depends has adduser"
fi
if command -v lintian >/dev/null 2>&1; then
  lintian --tag-display-limit 0 "$deb" "$devdeb" >"$tmp/lintian.log" 2>&1
  if grep -q '^E: ' "$tmp/lintian.log"; then
    grep '^E: ' "$tmp/lintian.log" >"$tmp/lintian-errors.log"
    ko "lintian: no errors" "$tmp/lintian-errors.log"
  else
    ok "lintian: no errors ($(grep -c '^W: ' "$tmp/lintian.log") warnings)"
  fi
else
  sk "lintian" "not installed"
fi

# ------------------------------------------------------------ 3. install
installed_by_us=1
if (cd "$(dirname "$deb")" && apt-get install -y -q "./$(basename "$deb")" "./$(basename "$devdeb")") \
  >"$tmp/install.log" 2>&1; then
  ok "apt-get install -y ./$(basename "$deb") ./$(basename "$devdeb")"
else
  ko "apt-get install -y ./$(basename "$deb") ./$(basename "$devdeb")" "$tmp/install.log"
  finish
fi
if getent passwd amid >/dev/null && getent group amid >/dev/null &&
  [ "$(getent passwd amid | cut -d: -f4)" = "$(getent group amid | cut -d: -f3)" ]; then
  ok "postinst created system user and group amid ($(getent passwd amid | cut -d: -f1,3,4,6,7))"
else
  ko "postinst created system user and group amid"
fi
perm="$(stat -c '%U:%G %a' /etc/amid/amid.conf 2>&1)"
if [ "$perm" = "root:amid 640" ]; then
  ok "/etc/amid/amid.conf is root:amid 0640 (it holds secrets)"
else
  ko "/etc/amid/amid.conf is root:amid 0640 (is: $perm)"
fi
unit=""
for d in /lib/systemd/system /usr/lib/systemd/system; do
  [ -f "$d/amid.service" ] && unit="$d/amid.service" && break
done
if [ -n "$unit" ] && grep -qx 'ExecStart=/usr/sbin/amid -c /etc/amid/amid.conf' "$unit"; then
  ok "$unit installed with ExecStart=/usr/sbin/amid -c /etc/amid/amid.conf"
else
  ko "amid.service installed with the Debian paths"
fi
if [ -L /etc/systemd/system/multi-user.target.wants/amid.service ]; then
  ok "amid.service enabled (dh_installsystemd)"
else
  ko "amid.service enabled (dh_installsystemd): no multi-user.target.wants/amid.service link"
fi
if [ -n "$unit" ] && command -v systemd-analyze >/dev/null 2>&1; then
  if systemd-analyze verify "$unit" >"$tmp/verify.log" 2>&1 && [ ! -s "$tmp/verify.log" ]; then
    ok "systemd-analyze verify $unit (and its man pages): silent"
  else
    ko "systemd-analyze verify $unit" "$tmp/verify.log"
  fi
else
  sk "systemd-analyze verify of the installed unit" "no systemd-analyze or no unit"
fi
if man -w 8 amid >/dev/null 2>&1 && man -w 5 amid.conf >/dev/null 2>&1 && man -w 1 amictl >/dev/null 2>&1; then
  ok "man amid(8), amid.conf(5), amictl(1) found"
elif ! command -v man >/dev/null 2>&1; then
  sk "installed man pages" "man not installed"
else
  ko "man amid(8), amid.conf(5), amictl(1) found"
fi
if /usr/sbin/amid -t -c /etc/amid/amid.conf >"$tmp/t.log" 2>&1; then
  ok "amid -t -c /etc/amid/amid.conf: $(cat "$tmp/t.log")"
else
  ko "amid -t -c /etc/amid/amid.conf" "$tmp/t.log"
fi

# ------------------------------------------------------------ 4. SDK
if pc_flags="$(pkg-config --cflags amid 2>"$tmp/pc.log")"; then
  ok "pkg-config --cflags amid: $pc_flags"
else
  ko "pkg-config --cflags amid" "$tmp/pc.log"
fi
moduledir="$(pkg-config --variable=moduledir amid 2>/dev/null)"
if [ -n "$moduledir" ] && [ -f "$moduledir/mod_core.so" ]; then
  ok "pkg-config --variable=moduledir amid: $moduledir (holds mod_core.so)"
else
  ko "pkg-config --variable=moduledir amid names the modules (got '$moduledir')"
fi
mkdir -p "$tmp/oot"
example=/usr/share/doc/amid/examples/mod_example.c
if [ -f "$example" ]; then
  cp "$example" "$tmp/oot/"
elif [ -f "$example.gz" ]; then
  gzip -dc "$example.gz" >"$tmp/oot/mod_example.c"
fi
# shellcheck disable=SC2046
if [ -f "$tmp/oot/mod_example.c" ] && (cd "$tmp/oot" && cc $(pkg-config --cflags --libs amid) \
  -shared -fPIC -o mod_example.so mod_example.c) >"$tmp/cc.log" 2>&1 && [ ! -s "$tmp/cc.log" ]; then
  ok "the SDK example builds against the installed headers, without diagnostics"
else
  ko "the SDK example builds against the installed headers, without diagnostics" "$tmp/cc.log"
fi

# ------------------------------------------------------------ 5. run it
conf=/etc/amid/amid.conf
port="$(sed -n 's/^[[:space:]]*port[[:space:]]*=[[:space:]]*\([0-9]*\);.*/\1/p' "$conf" | head -n 1)"
if "$PYTHON" -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' \
  "${port:-5038}" 2>/dev/null; then
  ok "the installed config runs as it is (port ${port:-5038} is free)"
else
  # Port taken (another amid?): a copy of the installed config on a free port.
  port="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  mkdir -p "$tmp/etc"
  chmod 0711 "$tmp"
  sed "s/^\([[:space:]]*port[[:space:]]*=[[:space:]]*\)[0-9]*;/\1$port;/" /etc/amid/amid.conf >"$tmp/etc/amid.conf"
  chgrp -R amid "$tmp/etc" && chmod 0750 "$tmp/etc" && chmod 0640 "$tmp/etc/amid.conf"
  conf="$tmp/etc/amid.conf"
  sk "the installed config as it is" "port 5038 is taken: a copy with port $port"
fi
# As the unit does: user amid, /run/amid its own (RuntimeDirectory=amid)
# for the control socket.  When /run/amid is there already and not amid's
# (another amid run by root), run as root instead and leave it alone.
if [ ! -d /run/amid ]; then
  install -d -o amid -g amid -m 0750 /run/amid && run_amid_created=1
fi
runas=()
if command -v setpriv >/dev/null 2>&1 && [ "$(stat -c %U /run/amid 2>/dev/null)" = amid ]; then
  runas=(setpriv --reuid=amid --regid=amid --init-groups --)
else
  echo "# running amid as root: /run/amid is not amid's, or no setpriv"
fi
"${runas[@]}" /usr/sbin/amid -f -c "$conf" >"$tmp/amid.log" 2>&1 &
daemon_pid=$!
booted=0
for _ in $(seq 1 100); do
  if grep -q "fully booted" "$tmp/amid.log"; then booted=1; break; fi
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
if [ "$booted" = 1 ]; then
  ok "installed amid started${runas:+ as user amid} with $conf: $(grep -o 'Manager listening on.*' "$tmp/amid.log")"
else
  ko "installed amid started with $conf" "$tmp/amid.log"
  finish
fi

# One AMI session: login as the demo user, Ping, then (when the example
# module sits in the module directory) ModuleLoad + ExampleEcho + unload.
cat >"$tmp/session.py" <<'EOF'
import socket, sys

port, with_example = int(sys.argv[1]), sys.argv[2] == "1"
s = socket.create_connection(("127.0.0.1", port), timeout=10)
buf = b""

def read_until(marker):
    global buf
    while marker not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("FAIL session: connection closed; got %r" % buf)
        buf += chunk
    out, _, buf = buf.partition(marker)
    return out + marker

def request(lines, action_id):
    s.sendall(("".join("%s: %s\r\n" % kv for kv in lines + [("ActionID", action_id)]) + "\r\n").encode())
    while True:
        block = read_until(b"\r\n\r\n").decode("latin-1")
        if block.startswith("Response:") and ("ActionID: %s\r\n" % action_id) in block:
            return block

def check(name, cond, detail):
    print(("PASS %s" if cond else "FAIL %s: %r") % ((name,) if cond else (name, detail)))

banner = read_until(b"\r\n").decode()
check("banner 'Asterisk Call Manager/1.1'", banner == "Asterisk Call Manager/1.1\r\n", banner)
r = request([("Action", "Login"), ("Username", "admin"), ("Secret", "amp111"), ("Events", "off")], "1")
check("login as the demo user admin/amp111", "Message: Authentication accepted" in r, r)
r = request([("Action", "Ping")], "2")
check("Ping: Pong", r.startswith("Response: Success") and "Ping: Pong" in r, r)
if with_example:
    r = request([("Action", "ModuleLoad"), ("LoadType", "load"), ("Module", "mod_example")], "3")
    check("ModuleLoad of the example built against the installed SDK", "Response: Success" in r, r)
    r = request([("Action", "ExampleEcho"), ("Text", "hello")], "4")
    check("ExampleEcho answers from the example module", "Echo: hello" in r, r)
    r = request([("Action", "ModuleLoad"), ("LoadType", "unload"), ("Module", "mod_example")], "5")
    check("ModuleLoad unload of the example", "Response: Success" in r, r)
r = request([("Action", "Logoff")], "6")
check("Logoff", r.startswith("Response: Goodbye"), r)
EOF
with_example=0
if [ -f "$tmp/oot/mod_example.so" ] && [ -n "$moduledir" ] && [ -d "$moduledir" ] &&
  [ ! -e "$moduledir/mod_example.so" ]; then
  cp "$tmp/oot/mod_example.so" "$moduledir/" && example_installed="$moduledir/mod_example.so" && with_example=1
fi
timeout 60 "$PYTHON" "$tmp/session.py" "$port" "$with_example" >"$tmp/session.out" 2>&1
cat "$tmp/session.out"
p=$(grep -c '^PASS ' "$tmp/session.out")
f=$(grep -c '^FAIL ' "$tmp/session.out")
pass=$((pass + p)) fail=$((fail + f))
if [ "$p" -eq 0 ] || grep -q "Traceback" "$tmp/session.out"; then
  ko "AMI session against the installed amid" "$tmp/amid.log"
fi
if [ -n "$example_installed" ]; then rm -f "$example_installed"; example_installed=""; fi

if [ -x /usr/bin/amictl ]; then
  sockopt=()
  ctl="$(sed -n 's/^[[:space:]]*controlsocket[[:space:]]*=[[:space:]]*"\([^"]*\)";.*/\1/p' "$conf" | head -n 1)"
  [ -n "$ctl" ] && sockopt=(-s "$ctl")
  if timeout 20 /usr/bin/amictl "${sockopt[@]}" -x "core show uptime" >"$tmp/amictl.log" 2>&1; then
    ok "amictl -x 'core show uptime': $(head -n 1 "$tmp/amictl.log")"
  else
    ko "amictl -x 'core show uptime' (status $?)" "$tmp/amictl.log"
  fi
else
  sk "amictl against the installed amid" "/usr/bin/amictl not installed"
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
  ok "installed amid exits 0 on SIGTERM"
else
  ko "installed amid exits 0 on SIGTERM (status ${rc:-still running})" "$tmp/amid.log"
  stop_daemon
fi
if [ "$fail" -gt 0 ]; then
  echo "# daemon log:"
  tail -n 40 "$tmp/amid.log" | sed 's/^/    /'
fi

# ------------------------------------------------------------ 6. purge
if apt-get purge -y -q amid amid-dev >"$tmp/purge.log" 2>&1; then
  installed_by_us=0
  ok "apt-get purge -y amid amid-dev"
else
  ko "apt-get purge -y amid amid-dev" "$tmp/purge.log"
fi
left=""
for f in /usr/sbin/amid /usr/bin/amictl /etc/amid "$unit" /etc/systemd/system/multi-user.target.wants/amid.service \
  /usr/include/amid "$moduledir"; do
  [ -n "$f" ] && [ -e "$f" ] && left="$left $f"
done
if dpkg-query -W -f='${db:Status-Status}\n' amid amid-dev 2>/dev/null | grep -qvx 'not-installed'; then
  left="$left (dpkg still knows amid or amid-dev)"
fi
if dpkg-statoverride --list /etc/amid/amid.conf >/dev/null 2>&1; then
  left="$left (statoverride of /etc/amid/amid.conf)"
fi
if [ -z "$left" ]; then
  ok "nothing of amid is left after the purge"
else
  ko "left after the purge:$left"
fi
if [ "$user_existed" = 0 ]; then
  deluser --system --quiet amid >/dev/null 2>&1
  getent group amid >/dev/null 2>&1 && delgroup --system --quiet amid >/dev/null 2>&1
  if getent passwd amid >/dev/null || getent group amid >/dev/null; then
    ko "removed the amid user and group this test's install created"
  else
    ok "removed the amid user and group this test's install created (the package keeps them, as Debian does)"
  fi
fi

finish
