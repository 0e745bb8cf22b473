#!/usr/bin/env bash
# Soak test (`make soak`, not part of CI): mixed load for SOAK_SECONDS
# (default 600) against a freshly started amid — Ping traffic, a UserEvent
# fan-out at a fixed rate, MD5 login cycles — while every few seconds the
# configuration is reloaded, every module is reloaded and mod_modules'
# neighbour mod_core is unloaded and loaded again.  Prints the daemon's RSS
# and fd count after the warm-up and at the end, and fails when they grew
# more than the tolerance (RSS: +25 % + 16 MiB; fds: +16) or amid died.
#
#   tools/soak.sh            (build first: make)
#   SOAK_SECONDS=60 tools/soak.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
secs=${SOAK_SECONDS:-600}
bench=${AMIBENCH:-$root/tools/amibench/amibench}
amid=${AMID:-$root/amid}
moddir=${MODDIR:-$root/modules/.libs}
tmp=$(mktemp -d)
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$tmp/amid.conf" <<CONF
general = { bindaddr = "127.0.0.1"; port = $port; displayconnects = false;
            authlimit = 1000; writetimeout = 2000; controlsocket = ""; };
modules = { load = [ "mod_core.so", "mod_modules.so" ]; };
users = ( { username = "admin"; secret = "amp111"; read = "all"; write = "all"; } );
CONF
"$amid" -f -c "$tmp/amid.conf" -m "$moddir" > "$tmp/amid.log" 2>&1 &
pid=$!
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 50); do
  /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break
  sleep 0.1
done

rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
fds() { ls "/proc/$pid/fd" | wc -l; }

common=(-p "$port" -u admin -s amp111)
"$bench" ping "${common[@]}" -n 16 -k 1 -d "$secs" > "$tmp/ping.out" 2>&1 & pids+=($!)
"$bench" fanout "${common[@]}" -n 50 -r 2000 -d "$secs" > "$tmp/fanout.out" 2>&1 & pids+=($!)
"$bench" login "${common[@]}" --md5 -n 2 -d "$secs" > "$tmp/login.out" 2>&1 & pids+=($!)

# Reloads every 3 s, on one admin connection.
/usr/bin/python3 - "$port" "$secs" > "$tmp/reload.out" 2>&1 <<'PY' & pids+=($!)
import socket, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rb")
f.readline()
def req(text):
    s.sendall(text.encode())
    lines = []
    while True:
        l = f.readline()
        if not l: raise SystemExit("amid closed the admin connection")
        if l == b"\r\n":
            if lines and lines[0].startswith(b"Response:"): return b"".join(lines)
            lines = []; continue
        lines.append(l)
req("Action: Login\r\nUsername: admin\r\nSecret: amp111\r\nEvents: off\r\n\r\n")
end, n = time.time() + secs, 0
while time.time() < end:
    req("Action: Reload\r\n\r\n")
    req("Action: ModuleLoad\r\nLoadType: reload\r\n\r\n")
    req("Action: ModuleLoad\r\nLoadType: unload\r\nModule: mod_core\r\n\r\n")
    req("Action: ModuleLoad\r\nLoadType: load\r\nModule: mod_core\r\n\r\n")
    n += 1
    time.sleep(3)
print("reload cycles", n)
PY

warm=$(( secs < 60 ? secs / 6 : 10 ))
sleep "$warm"
rss0=$(rss); fds0=$(fds)
echo "after ${warm}s warm-up: RSS ${rss0} KiB, ${fds0} fds"
sleep $(( secs - warm - 2 > 0 ? secs - warm - 2 : 1 ))
rss1=$(rss); fds1=$(fds)
echo "after ${secs}s:          RSS ${rss1} KiB, ${fds1} fds"
for p in "${pids[@]}"; do wait "$p" || true; done
pids=()
grep -h -E "round trips/s|deliveries/s|lost|cycles/s" "$tmp"/*.out || true
tail -n1 "$tmp/reload.out"

fail=0
if ! kill -0 "$pid" 2>/dev/null; then echo "FAIL amid died"; tail -n 20 "$tmp/amid.log"; fail=1; fi
limit=$(( rss0 * 125 / 100 + 16384 ))
if [ "$rss1" -gt "$limit" ]; then echo "FAIL RSS grew beyond ${limit} KiB"; fail=1; fi
if [ "$fds1" -gt $(( fds0 + 16 )) ]; then echo "FAIL fds grew from $fds0 to $fds1"; fail=1; fi
if grep -q -E "CRITICAL|ERROR" "$tmp/amid.log"; then echo "FAIL errors in the log:"; grep -m5 -E "CRITICAL|ERROR" "$tmp/amid.log"; fail=1; fi
kill -TERM "$pid"; wait "$pid" || { echo "FAIL amid exit status $?"; fail=1; }
[ "$fail" -eq 0 ] && echo "soak: PASS (RSS ${rss0} → ${rss1} KiB, fds ${fds0} → ${fds1})"
exit "$fail"
