#!/usr/bin/env bash
# Short benchmark suite (`make bench`): amid against the reference floor.
#
# Starts amid from the build tree with a temporary configuration on a free
# port and `amibench floor` on another, runs each workload for a few
# seconds against both, prints amid/floor per workload and writes
# doc/BENCHMARKS.md (machine, commit, exact commands, figures).  Stops
# everything it started.  About 2-3 minutes.
#
# Environment:
#   BUILDDIR   build tree holding amid, modules/.libs and
#              tools/amibench/amibench          [the source tree]
#   AMID, AMIBENCH, MODDIR   override single paths
#   BENCH_OUT  report to write                  [SRCDIR/doc/BENCHMARKS.md]
#   BENCH_SCALE  multiply every duration        [1]
#   BENCH_ROUNDS rounds of ping/fanout/login, best kept [2]
#   BENCH_KEEP   set: keep the temporary directory (logs, raw output)
set -euo pipefail

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILDDIR=$(cd "${BUILDDIR:-$SRCDIR}" && pwd)
AMID=${AMID:-$BUILDDIR/amid}
MODDIR=${MODDIR:-$BUILDDIR/modules/.libs}
AMIBENCH=${AMIBENCH:-$BUILDDIR/tools/amibench/amibench}
OUT=${BENCH_OUT:-$SRCDIR/doc/BENCHMARKS.md}
SCALE=${BENCH_SCALE:-1}

TMP=$(mktemp -d /tmp/amid-bench.XXXXXX)
AMID_PID=
FLOOR_PID=

cleanup() {
	local pid
	for pid in $AMID_PID $FLOOR_PID; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in $AMID_PID $FLOOR_PID; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "bench.sh: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "bench.sh: $*" >&2; exit 1; }

# ------------------------------------------------------------------ build
[ -x "$AMID" ] || die "no amid at $AMID (build first: make)"
[ -d "$MODDIR" ] || die "no module directory $MODDIR"
if [ ! -x "$AMIBENCH" ]; then
	echo "bench.sh: $AMIBENCH not built; compiling a private copy"
	AMIBENCH=$TMP/amibench
	# shellcheck disable=SC2046
	gcc -std=gnu11 -O2 -Wall -Wextra $(pkg-config --cflags glib-2.0) \
		"$SRCDIR"/tools/amibench/*.c -o "$AMIBENCH" \
		$(pkg-config --libs glib-2.0) -lm -pthread ||
		die "cannot build amibench"
fi

# 10,000 idle sessions need 10,000+ descriptors on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge 10100 ] || die "need ulimit -n >= 10100 (have $(ulimit -n))"

dur() { awk -v d="$1" -v s="$SCALE" 'BEGIN { printf "%g", d * s }'; }

# ------------------------------------------------------------------ servers
cat >"$TMP/amid.conf" <<EOF
# amid configuration used by tools/bench.sh
general = {
  enabled = true;
  bindaddr = "127.0.0.1";
  port = 0;                   # any free port
  authlimit = 20000;          # the idle test logs in 10,000 sessions at once
  displayconnects = false;
  queuelimit = 67108864;      # 64 MiB: the burst (30 MB of events) fits
  controlsocket = "";         # no CLI socket for benchmark daemons
  workers = 1;                # amibench runs on the same 2 cores, and the
                              # floor it is compared with is single-threaded
};
modules = {
  directory = "$MODDIR";
  autoload = false;
  load = [ "mod_core.so" ];
};
users = (
  { username = "admin"; secret = "amp111"; read = "all"; write = "all"; }
);
EOF

start_amid() {
	: >"$TMP/amid.log"
	"$AMID" -f -c "$TMP/amid.conf" -m "$MODDIR" >>"$TMP/amid.log" 2>&1 &
	AMID_PID=$!
	AMID_PORT=
	for _ in $(seq 100); do
		AMID_PORT=$(sed -n 's/.*Manager listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' \
			"$TMP/amid.log" | head -1)
		grep -q "fully booted" "$TMP/amid.log" && [ -n "$AMID_PORT" ] && return 0
		kill -0 "$AMID_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$TMP/amid.log" >&2
	die "amid did not start"
}

start_floor() {
	"$AMIBENCH" floor --port 0 --port-file "$TMP/floor.port" \
		--queue-limit 67108864 --duration 900 >"$TMP/floor.log" 2>&1 &
	FLOOR_PID=$!
	for _ in $(seq 100); do
		[ -s "$TMP/floor.port" ] && break
		sleep 0.05
	done
	[ -s "$TMP/floor.port" ] || die "floor did not start: $(cat "$TMP/floor.log")"
	FLOOR_PORT=$(cat "$TMP/floor.port")
}

stop_pid() {
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 50); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
}

# Fresh servers: RSS figures must not profit from memory an earlier
# workload left in the allocator.
fresh() {
	[ -n "$AMID_PID" ] && stop_pid "$AMID_PID"
	[ -n "$FLOOR_PID" ] && stop_pid "$FLOOR_PID"
	[ -f "$TMP/amid.log" ] && cat "$TMP/amid.log" >>"$TMP/amid.all.log"
	rm -f "$TMP/floor.port"
	start_amid
	start_floor
	echo "bench.sh: amid pid $AMID_PID port $AMID_PORT, floor pid $FLOOR_PID port $FLOOR_PORT"
}

# ------------------------------------------------------------------ runs
# Results: $TMP/<name>.<target>.json (the JSON object), .txt (the table).
COMMANDS=()
CRASHES=()

run() { # run NAME TARGET ROUND ARGS...
	local name=$1 target=$2 round=$3 port pid
	shift 3
	if [ "$target" = amid ]; then port=$AMID_PORT pid=$AMID_PID; else port=$FLOOR_PORT pid=$FLOOR_PID; fi
	local cmd=("$AMIBENCH" "$@" -p "$port" --pid "$pid" -l "$target")
	[ "$round" = 1 ] && COMMANDS+=("amibench $* -p <$target port> --pid <$target pid> -l $target")
	echo
	echo "### $name ($target, round $round)"
	"${cmd[@]}" >"$TMP/$name.$target.r$round.txt" 2>&1 || true
	grep -v '^JSON ' "$TMP/$name.$target.r$round.txt" || true
	sed -n 's/^JSON //p' "$TMP/$name.$target.r$round.txt" | tail -1 >"$TMP/$name.$target.r$round.json"
	if [ "$target" = amid ] && ! kill -0 "$AMID_PID" 2>/dev/null; then
		CRASHES+=("$name: amid exited; log tail: $(tail -3 "$TMP/amid.log" | tr '\n' ' ')")
		echo "bench.sh: amid died during $name, restarting it" >&2
		cp "$TMP/amid.log" "$TMP/amid.crash.$name.log"
		cat "$TMP/amid.log" >>"$TMP/amid.all.log"
		start_amid
	fi
	if [ "$target" = floor ] && ! kill -0 "$FLOOR_PID" 2>/dev/null; then
		CRASHES+=("$name: the floor exited")
		start_floor
	fi
}

# both NAME KEY ROUNDS ARGS...: amid and floor alternately, ROUNDS times
# each; the round with the highest KEY is kept (interference from other
# work on the machine only ever lowers a throughput).
both() {
	local name=$1 key=$2 rounds=$3 r t best bv v
	shift 3
	for r in $(seq "$rounds"); do
		run "$name" amid "$r" "$@"
		run "$name" floor "$r" "$@"
	done
	for t in amid floor; do
		best=1 bv=
		for r in $(seq "$rounds"); do
			v=$(sed -n "s/.*\"$key\":\(-\{0,1\}[0-9.e+]*\).*/\1/p" "$TMP/$name.$t.r$r.json" | head -1)
			if [ -n "$v" ] && { [ -z "$bv" ] || awk -v a="$v" -v b="$bv" 'BEGIN { exit !(a > b) }'; }; then
				best=$r bv=$v
			fi
		done
		cp "$TMP/$name.$t.r$best.json" "$TMP/$name.$t.json"
		cp "$TMP/$name.$t.r$best.txt" "$TMP/$name.$t.txt"
	done
}

ROUNDS=${BENCH_ROUNDS:-2}

T0=$(date +%s)
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
fresh
both idle ready 1 idle -n 10000 -d "$(dur 5)"
fresh
both ping1 rtt_per_s "$ROUNDS" ping -n 64 -k 1 -d "$(dur 2.5)" -w 0.5
both ping16 rtt_per_s "$ROUNDS" ping -n 64 -k 16 -d "$(dur 2.5)" -w 0.5
both fan100 deliveries_per_s "$ROUNDS" fanout -n 100 -d "$(dur 2.5)"
both fan1000 deliveries_per_s "$ROUNDS" fanout -n 1000 -d "$(dur 2.5)"
both login logins_per_s "$ROUNDS" login --auth md5 -n 4 -d "$(dur 2.5)"
both slow ready 1 slow -n 100 -m 100 -d "$(dur 3)"
fresh
both burst published 1 burst -n 100 -e 100000
T1=$(date +%s)
LOAD1=$(cut -d' ' -f1 /proc/loadavg)
WORKERS=$(sed -n 's/.*fully booted (\([0-9]*\) I\/O workers).*/\1/p' "$TMP/amid.log" | head -1)
cat "$TMP/amid.log" >>"$TMP/amid.all.log"

# ------------------------------------------------------------------ figures
# get NAME TARGET FIELD -> number ("" when missing)
get() {
	sed -n "s/.*\"$3\":\(-\{0,1\}[0-9.e+]*\).*/\1/p" "$TMP/$1.$2.json" 2>/dev/null | head -1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
fmt() { awk -v v="$1" -v d="${2:-0}" 'BEGIN { if (v == "") print "-"; else printf "%.*f", d, v }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 >= b + 0) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 <= b + 0) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 < b + 0) }'; }
verdict() { if "$@"; then echo "meets"; else echo "**misses**"; fi; }

ROWS=()
row() { # workload | metric | amid | floor | ratio | target | verdict
	ROWS+=("| $1 | $2 | $3 | $4 | $5 | $6 | $7 |")
}

for k in 1 16; do
	a=$(get ping$k amid rtt_per_s) f=$(get ping$k floor rtt_per_s) r=$(ratio "$a" "$f")
	want=$([ $k = 1 ] && echo 0.9 || echo 0.7)
	row "ping 64 conns K=$k" "round trips/s" "$(fmt "$a")" "$(fmt "$f")" "$r" \
		"≥ $(awk -v w="$want" 'BEGIN{print w*100}') % of floor" "$(verdict ge "$r" "$want")"
	row "ping 64 conns K=$k" "latency p50 / p99 µs" \
		"$(fmt "$(get ping$k amid p50_us)") / $(fmt "$(get ping$k amid p99_us)")" \
		"$(fmt "$(get ping$k floor p50_us)") / $(fmt "$(get ping$k floor p99_us)")" \
		"$(ratio "$(get ping$k amid p99_us)" "$(get ping$k floor p99_us)")" "" ""
done
for n in 100 1000; do
	a=$(get fan$n amid deliveries_per_s) f=$(get fan$n floor deliveries_per_s)
	la=$(get fan$n amid lost) lf=$(get fan$n floor lost)
	want=$([ $n = 100 ] && echo 1000000 || echo 300000)
	ok() { ge "$a" "$want" && [ "$la" = 0 ]; }
	row "fanout $n subs" "deliveries/s (lost)" "$(fmt "$a") ($la)" "$(fmt "$f") ($lf)" "$(ratio "$a" "$f")" \
		"≥ $(fmt "$want") /s, 0 lost" "$(verdict ok)"
	row "fanout $n subs" "delivery latency p50 / p99 µs" \
		"$(fmt "$(get fan$n amid p50_us)") / $(fmt "$(get fan$n amid p99_us)")" \
		"$(fmt "$(get fan$n floor p50_us)") / $(fmt "$(get fan$n floor p99_us)")" \
		"$(ratio "$(get fan$n amid p99_us)" "$(get fan$n floor p99_us)")" "" ""
done
a=$(get login amid logins_per_s) f=$(get login floor logins_per_s) r=$(ratio "$a" "$f")
row "login MD5, 4 parallel" "cycles/s" "$(fmt "$a")" "$(fmt "$f")" "$r" "≥ 80 % of floor" "$(verdict ge "$r" 0.8)"

a=$(get idle amid rss_per_session_b) f=$(get idle floor rss_per_session_b)
row "idle 10,000 sessions" "server RSS per session, bytes" "$(fmt "$a")" "$(fmt "$f")" "$(ratio "$a" "$f")" \
	"≤ 16384" "$(verdict le "$a" 16384)"
a=$(get idle amid extra_login_ms) f=$(get idle floor extra_login_ms)
row "idle 10,000 sessions" "10,001st login, ms" "$(fmt "$a" 2)" "$(fmt "$f" 2)" "$(ratio "$a" "$f")" "≤ 5 ms" "$(verdict le "$a" 5)"
a=$(get idle amid cpu_per_60s) f=$(get idle floor cpu_per_60s)
row "idle 10,000 sessions" "server CPU per 60 s held, s" "$(fmt "$a" 3)" "$(fmt "$f" 3)" "-" "< 0.1 s" "$(verdict lt "$a" 0.1)"

a=$(get slow amid impact_pct) f=$(get slow floor impact_pct)
row "slow 100 + 100" "healthy deliveries/s lost to slow readers, %" "$(fmt "$a" 1)" "$(fmt "$f" 1)" "-" "< 10 %" \
	"$(verdict lt "$a" 10)"
row "slow 100 + 100" "healthy deliveries/s: A without / B with / C without slow" \
	"$(fmt "$(get slow amid a_deliveries_per_s)") / $(fmt "$(get slow amid b_deliveries_per_s)") / $(fmt "$(get slow amid c_deliveries_per_s)")" \
	"$(fmt "$(get slow floor a_deliveries_per_s)") / $(fmt "$(get slow floor b_deliveries_per_s)") / $(fmt "$(get slow floor c_deliveries_per_s)")" \
	"$(ratio "$(get slow amid b_deliveries_per_s)" "$(get slow floor b_deliveries_per_s)")" "" ""
row "slow 100 + 100" "slow ones dropped (median ms after start)" \
	"$(get slow amid slow_dropped) ($(fmt "$(get slow amid slow_drop_median_ms)"))" \
	"$(get slow floor slow_dropped) ($(fmt "$(get slow floor slow_drop_median_ms)"))" "-" "" ""

a=$(get burst amid rss_growth_x_event_bytes) f=$(get burst floor rss_growth_x_event_bytes)
la=$(get burst amid lost) lf=$(get burst floor lost)
okb() { le "$a" 1.5 && [ "$la" = 0 ]; }
row "burst 100k events, 100 subs" "peak RSS growth ÷ event bytes (lost)" "$(fmt "$a" 2) ($la)" "$(fmt "$f" 2) ($lf)" "-" \
	"≈ 1, 0 lost" "$(verdict okb)"
row "burst 100k events, 100 subs" "drain s / p99 delay ms / subs dropped" \
	"$(fmt "$(get burst amid drain_s)" 2) / $(fmt "$(awk -v v="$(get burst amid p99_us)" 'BEGIN{print v/1000}')") / $(get burst amid dropped_subs)" \
	"$(fmt "$(get burst floor drain_s)" 2) / $(fmt "$(awk -v v="$(get burst floor p99_us)" 'BEGIN{print v/1000}')") / $(get burst floor dropped_subs)" \
	"$(ratio "$(get burst amid drain_s)" "$(get burst floor drain_s)")" "" ""

TABLE_HEAD="| workload | metric | amid | floor | amid/floor | target | verdict |
|---|---|---|---|---|---|---|"

echo
echo "================ amid vs floor ($((T1 - T0)) s)"
echo "$TABLE_HEAD"
printf '%s\n' "${ROWS[@]}"
if [ ${#CRASHES[@]} -gt 0 ]; then
	printf 'CRASH: %s\n' "${CRASHES[@]}"
fi

# ------------------------------------------------------------------ report
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
MEM=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
COMMIT=$(git -C "$SRCDIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$SRCDIR" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	COMMIT="$COMMIT (with uncommitted changes)"
fi
WARNINGS=$(grep -c ' WARNING ' "$TMP/amid.all.log" || true)
DROPS_WT=$(grep -c 'writetimeout' "$TMP/amid.all.log" || true)
DROPS_Q=$(grep -c 'output queue over' "$TMP/amid.all.log" || true)

{
	echo "# amid benchmarks"
	echo
	echo "Written by \`tools/bench.sh\` (\`make bench\`) on $(date -u '+%Y-%m-%d %H:%M UTC'); the suite took $((T1 - T0)) s."
	echo "Every workload ran against amid and against the reference floor (\`amibench floor\`: one thread,"
	echo "raw epoll, pre-formatted replies, each UserEvent formatted once and queued by reference to every"
	echo "subscriber, one \`writev\` per session per loop pass).  Client and servers share the same cores, so"
	echo "the ratio amid/floor is the figure that transfers between machines; absolute numbers do not."
	echo
	echo "## Machine"
	echo
	echo "| | |"
	echo "|---|---|"
	echo "| CPUs (nproc) | $(nproc) |"
	echo "| CPU model | ${CPU:-unknown} |"
	echo "| memory | $MEM |"
	echo "| kernel | $(uname -sr) |"
	echo "| amid commit | $COMMIT |"
	echo "| amid version | $("$AMID" -V 2>/dev/null | head -1 || echo unknown) |"
	echo "| amid I/O workers | ${WORKERS:-?} (floor: 1 thread; amibench: 1 I/O thread per role) |"
	echo "| load average (1 min) at start / end | $LOAD0 / $LOAD1 |"
	echo
	echo "## Figures"
	echo
	echo "$TABLE_HEAD"
	printf '%s\n' "${ROWS[@]}"
	echo
	if [ ${#CRASHES[@]} -gt 0 ]; then
		echo "**amid stopped during the run:**"
		printf -- '- %s\n' "${CRASHES[@]}"
		echo
	fi
	echo "amid log during the suite: $WARNINGS warnings; sessions dropped for writetimeout: $DROPS_WT, for the queue limit: $DROPS_Q."
	echo
	echo "How to read them:"
	echo
	echo "- The load average above shows whether other work shared the cores during the run; with a"
	echo "  load well above 0 at the start, expect noisy figures (rerun when the machine is quiet)."
	echo "- ping, fanout and login ran $ROUNDS times against each server, alternately; the table keeps each"
	echo "  server's best round (other work on the machine can only lower a throughput).  All rounds are in"
	echo "  the raw results."
	echo "- *ping*: 64 connections, K Pings in flight each, matched by ActionID; 0.5 s warm-up."
	echo "- *fanout*: one publisher sends \`UserEvent\` (~300-byte events) as fast as flow control allows:"
	echo "  ≤ 64 actions without response and ≤ 256 events ahead of the slowest subscriber (\`--lag\`), so the"
	echo "  latency at this maximum rate is queueing (≈ lag ÷ event rate), not the latency of a lightly loaded"
	echo "  server (use \`--rate\` for that).  Lost = published − received, checked by sequence number after a drain."
	echo "- *idle*: fresh servers; RSS per session = (RSS with all 10,000 logged in − RSS before) ÷ 10,000."
	echo "  CPU = on-CPU time of all server threads over the 5 s hold (/proc/PID/task/*/schedstat; utime+stime"
	echo "  counts 10 ms ticks, also in the raw results), scaled to 60 s.  The extra login (10,001st) is timed"
	echo "  from connect() to \"Authentication accepted\" while the 10,000 are held."
	echo "- *slow*: phase A = 100 reading subscribers; phase B = the same plus 100 that log in and never read"
	echo "  again (SO_RCVBUF 64 KiB); phase C = the 100 alone again.  Impact = B against the mean of A and C"
	echo "  (A and C bracket B against drift; their difference is in the raw results as drift_pct)."
	echo "  Phase B includes the time before the server gives up on the slow ones, while their kernel buffers"
	echo "  still take data.  A server that closes a socket with unsent data cannot deliver the FIN to"
	echo "  a client that does not read, so drops are found by reading the slow sockets after phase B; the drop"
	echo "  time is then the send time of the last event the server had written to them (a lower bound)."
	echo "- *burst*: 100,000 events published as fast as the server accepts them (≤ 256 unanswered actions),"
	echo "  no end-to-end flow control; RSS sampled every 5 ms.  The config sets \`queuelimit\` to 64 MiB so"
	echo "  that the 30 MB backlog fits (amid's default of 4 MiB drops subscribers by design here)."
	echo
	echo "## Commands"
	echo
	echo "amid ran as \`amid -f -c CONF -m modules/.libs\` with this CONF:"
	echo
	echo '```'
	sed "s|$MODDIR|modules/.libs|" "$TMP/amid.conf"
	echo '```'
	echo
	echo "The floor ran as \`amibench floor --port 0 --queue-limit 67108864\`.  Each workload, against each:"
	echo
	echo '```'
	printf '%s\n' "${COMMANDS[@]}"
	echo '```'
	echo
	echo "## Raw results"
	echo
	echo "One \`JSON\` line per run, as printed by amibench."
	echo
	echo '```'
	for f in idle ping1 ping16 fan100 fan1000 login slow burst; do
		for j in "$TMP/$f".*.r*.json; do
			[ -s "$j" ] && cat "$j"
		done
	done
	echo '```'
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo
echo "bench.sh: wrote $OUT"
