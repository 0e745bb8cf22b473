#!/usr/bin/env bash
# Conformance suite: three unmodified third-party AMI clients against amid.
#
#   tests/conformance/run.sh [CLIENT...]
#
# CLIENTs: panoramisk asterisk-manager asterisk-ami-client (default: all).
# Starts ./amid itself (built tree) on a free loopback port with a test
# configuration (user admin/amp111, read=all write=all), runs each client's
# driver under a time limit, stops amid with SIGTERM, and prints
#   PASS client/step | FAIL client/step: reason | SKIP client/step: reason
# then, as its last line, 'N passed, N failed, N skipped'.  Exit status 1 when
# anything failed.
#
# Environment (all optional):
#   AMID                 daemon binary (default: ./amid of this tree)
#   AMID_MODULE_DIR      module directory (default: modules/.libs of this tree)
#   AMID_WRAPPER         command put in front of amid, e.g. "valgrind -q"
#   AMID_START_TIMEOUT   seconds amid has to show its banner (default 15)
#   AMI_TIMEOUT          seconds per client step (default 5)
#   AMI_DRIVER_TIMEOUT   seconds per client driver in all (default 60)
#   AMI_SKIP_INSTALL=1   do not run install-clients.sh first
#   AMI_KEEP_LOGS=1      keep the work directory (config, amid log, driver
#                        stderr) even when everything passed
#   AMID_AMI_VERSION     general.ami_version of the test daemon (default
#                        amid's, 1.1); it chooses the Command reply format:
#                        below 2 "Response: Follows" ... "--END COMMAND--",
#                        else Success/Error with "Output:" lines
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

AMID="${AMID:-$root/amid}"
AMID_MODULE_DIR="${AMID_MODULE_DIR:-$root/modules/.libs}"
AMID_WRAPPER="${AMID_WRAPPER:-}"
AMID_START_TIMEOUT="${AMID_START_TIMEOUT:-15}"
export AMI_TIMEOUT="${AMI_TIMEOUT:-5}"
AMI_DRIVER_TIMEOUT="${AMI_DRIVER_TIMEOUT:-60}"
export AMI_HOST=127.0.0.1 AMI_USER=admin AMI_SECRET=amp111

all_clients=(panoramisk asterisk-manager asterisk-ami-client)
if [ "$#" -gt 0 ]; then clients=("$@"); else clients=("${all_clients[@]}"); fi

pass=0 fail=0 skip=0
fail_line() {  # fail_line STEP REASON
  echo "FAIL $1: $2"
  fail=$((fail + 1))
}
summary_and_exit() {
  if [ "$fail" -ne 0 ] || [ "${AMI_KEEP_LOGS:-0}" = 1 ]; then
    echo "conformance: config, amid log and driver stderr kept in $work"
  fi
  echo "$pass passed, $fail failed, $skip skipped"
  [ "$fail" -eq 0 ] && exit 0 || exit 1
}

work="$(mktemp -d "${TMPDIR:-/tmp}/amid-conformance.XXXXXX")"
amid_pid=""

amid_log_tail() {
  if [ -s "$work/amid.log" ]; then
    echo "--- last lines of $work/amid.log:"
    tail -n 30 "$work/amid.log" | sed 's/^/    /'
    echo "---"
  fi
}

cleanup() {
  if [ -n "$amid_pid" ] && kill -0 "$amid_pid" 2>/dev/null; then
    kill -KILL "$amid_pid" 2>/dev/null || true
    wait "$amid_pid" 2>/dev/null || true
  fi
  if [ "$fail" -eq 0 ] && [ "${AMI_KEEP_LOGS:-0}" != 1 ]; then
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# --- prerequisites -----------------------------------------------------------
if [ "${AMI_SKIP_INSTALL:-0}" != 1 ]; then
  if ! "$here/install-clients.sh" >"$work/install.log" 2>&1; then
    echo "conformance: install-clients.sh failed (see $work/install.log); the drivers will report what is missing" >&2
    sed 's/^/    /' "$work/install.log" >&2 || true
  fi
fi
if [ ! -x "$AMID" ]; then
  fail_line "amid/start" "$AMID is not built (run tools/build.sh)"
  summary_and_exit
fi

free_port() {
  /usr/bin/python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

write_config() {  # write_config PORT
  cat >"$work/amid.conf" <<EOF
# Written by tests/conformance/run.sh
general = {
  enabled = true;
  bindaddr = "127.0.0.1";
  port = $1;
  authtimeout = 30;
  controlsocket = "$work/amid.ctl";
${AMID_AMI_VERSION:+  ami_version = \"$AMID_AMI_VERSION\";}
  displayconnects = true;
};
modules = {
  directory = "$AMID_MODULE_DIR";
  autoload = true;
};
users = (
  { username = "admin"; secret = "amp111"; read = "all"; write = "all"; }
);
EOF
}

# Wait until amid answers with its banner; 0 when it did, else the reason
# is in start_error.
start_error=""
wait_banner() {  # wait_banner PORT
  local deadline=$((SECONDS + AMID_START_TIMEOUT)) line
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! kill -0 "$amid_pid" 2>/dev/null; then
      reap_amid
      start_error="amid ended at start-up with $(describe_status "$amid_rc")"
      return 1
    fi
    if { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; then
      line=""
      IFS= read -r -t 3 line <&3 || true
      exec 3<&- 3>&-
      case "$line" in
        "Asterisk Call Manager/"*) return 0 ;;
        *) start_error="first line on connecting was '${line%$'\r'}', not 'Asterisk Call Manager/...'"
           return 1 ;;
      esac
    fi
    sleep 0.1
  done
  start_error="amid did not show its banner within ${AMID_START_TIMEOUT}s"
  return 1
}

# Start amid on a free port (a few tries, in case the port was taken meanwhile).
start_amid() {
  local port
  for _ in 1 2 3; do
    port="$(free_port)"
    write_config "$port"
    # shellcheck disable=SC2086  # AMID_WRAPPER is a command line on purpose
    $AMID_WRAPPER "$AMID" -f -c "$work/amid.conf" -m "$AMID_MODULE_DIR" >>"$work/amid.log" 2>&1 &
    amid_pid=$!
    if wait_banner "$port"; then
      export AMI_PORT="$port"
      return 0
    fi
    if [ -n "$amid_pid" ]; then
      kill -KILL "$amid_pid" 2>/dev/null || true
      reap_amid
    fi
  done
  return 1
}

# Collect the ended amid's exit status into amid_rc.
amid_rc=0
reap_amid() {
  amid_rc=0
  wait "$amid_pid" 2>/dev/null || amid_rc=$?
  amid_pid=""
}

describe_status() {  # describe_status RC
  if [ "$1" -gt 128 ]; then
    echo "killed by signal $(($1 - 128)) ($(kill -l "$(($1 - 128))" 2>/dev/null || echo '?'))"
  else
    echo "exit status $1"
  fi
}


# --- run ---------------------------------------------------------------------
if ! start_amid; then
  fail_line "amid/start" "$start_error"
  amid_log_tail
  summary_and_exit
fi
echo "conformance: amid pid $amid_pid on 127.0.0.1:$AMI_PORT"

for client in "${clients[@]}"; do
  case "$client" in
    panoramisk) argv=(/usr/bin/python3 "$here/drivers/panoramisk_client.py") ;;
    asterisk-manager) argv=(node "$here/drivers/asterisk_manager_client.js") ;;
    asterisk-ami-client) argv=(node "$here/drivers/asterisk_ami_client_client.js") ;;
    *) fail_line "$client/driver" "unknown client (known: ${all_clients[*]})"; continue ;;
  esac
  # A previous client may have crashed amid: say so, and start a fresh one.
  if [ -z "$amid_pid" ] || ! kill -0 "$amid_pid" 2>/dev/null; then
    if ! start_amid; then
      fail_line "amid/start" "restarting amid for $client: $start_error"
      continue
    fi
  fi

  out="$work/$client.out" err="$work/$client.err"
  rc=0
  timeout -k 5 "$AMI_DRIVER_TIMEOUT" "${argv[@]}" >"$out" 2>"$err" </dev/null || rc=$?
  cat "$out"
  p=$(grep -c '^PASS ' "$out" || true)
  f=$(grep -c '^FAIL ' "$out" || true)
  s=$(grep -c '^SKIP ' "$out" || true)
  pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      fail_line "$client/driver" "still running after ${AMI_DRIVER_TIMEOUT}s, killed"
    else
      fail_line "$client/driver" "exited with status $rc without a FAIL line"
    fi
  elif [ "$rc" -eq 0 ] && [ $((p + f + s)) -eq 0 ]; then
    fail_line "$client/driver" "printed no result"
  fi
  if [ -s "$err" ] && { [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; }; then
    echo "--- $client stderr:"
    tail -n 20 "$err" | sed 's/^/    /'
    echo "---"
  fi

  if ! kill -0 "$amid_pid" 2>/dev/null; then
    reap_amid
    fail_line "amid/running" "amid ended while $client ran: $(describe_status "$amid_rc")"
  fi
done

# --- stop amid with SIGTERM ----------------------------------------------------
if [ -n "$amid_pid" ]; then
  kill -TERM "$amid_pid" 2>/dev/null || true
  deadline=$((SECONDS + 10))
  while kill -0 "$amid_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.1
  done
  if kill -0 "$amid_pid" 2>/dev/null; then
    kill -KILL "$amid_pid" 2>/dev/null || true
    reap_amid
    fail_line "amid/shutdown" "amid still running 10s after SIGTERM (killed)"
  else
    reap_amid
    if [ "$amid_rc" -eq 0 ]; then
      echo "PASS amid/shutdown"
      pass=$((pass + 1))
    else
      fail_line "amid/shutdown" "after SIGTERM amid ended with $(describe_status "$amid_rc")"
    fi
  fi
fi

if [ "$fail" -ne 0 ]; then amid_log_tail; fi
summary_and_exit
