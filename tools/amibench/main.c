/*
 * amibench — load generator and benchmark suite for AMI servers.
 *
 *   amibench MODE [options]
 *
 * Modes: ping, fanout, login, idle, slow, burst (clients of any AMI
 * server) and floor (the minimal reference server).  Every client mode
 * prints a table and exactly one line "JSON {...}".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "amibench.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

Opts opt;

static gboolean flag_md5;
static double opt_duration = -1, opt_warmup = -1, opt_drain = -1;
static gint64 opt_events = -1, opt_queue_limit = -1;

static GOptionEntry entries[] = {
	{"host", 'H', 0, G_OPTION_ARG_STRING, &opt.host,
	 "Server address (floor: address to listen on) [127.0.0.1]", "ADDR"},
	{"port", 'p', 0, G_OPTION_ARG_INT, &opt.port,
	 "Server port (floor: 0 = any free port) [5038]", "PORT"},
	{"user", 'u', 0, G_OPTION_ARG_STRING, &opt.user, "Username [admin]",
	 "NAME"},
	{"secret", 's', 0, G_OPTION_ARG_STRING, &opt.secret,
	 "Secret [amp111]", "SECRET"},
	{"auth", 'a', 0, G_OPTION_ARG_STRING, &opt.auth,
	 "Login method: plain or md5 (Challenge) [plain]", "METHOD"},
	{"md5", 0, 0, G_OPTION_ARG_NONE, &flag_md5, "Same as --auth md5",
	 NULL},
	{"conns", 'n', 0, G_OPTION_ARG_INT, &opt.conns,
	 "N: ping connections [64], fanout/slow/burst subscribers [100], "
	 "idle sessions [1000], login parallel clients [4]",
	 "N"},
	{"slow", 'm', 0, G_OPTION_ARG_INT, &opt.slow,
	 "slow: subscribers that stop reading [100]", "M"},
	{"outstanding", 'k', 0, G_OPTION_ARG_INT, &opt.k,
	 "ping: Pings in flight per connection [1]", "K"},
	{"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &opt_duration,
	 "Seconds of measurement (idle: hold time; slow: per phase; "
	 "floor: lifetime) [5; idle 10; floor 600]",
	 "S"},
	{"warmup", 'w', 0, G_OPTION_ARG_DOUBLE, &opt_warmup,
	 "ping/login: seconds before measuring [0.5 / 0]", "S"},
	{"threads", 't', 0, G_OPTION_ARG_INT, &opt.threads,
	 "Client I/O threads for ping connections / subscribers [1]", "T"},
	{"rate", 'r', 0, G_OPTION_ARG_DOUBLE, &opt.rate,
	 "fanout/slow: events/s to publish, 0 = as fast as possible [0]",
	 "R"},
	{"window", 'W', 0, G_OPTION_ARG_INT, &opt.window,
	 "UserEvent actions in flight without a response [64; burst 256]",
	 "W"},
	{"lag", 'L', 0, G_OPTION_ARG_INT, &opt.lag,
	 "fanout/slow: events the publisher may run ahead of the slowest "
	 "healthy subscriber, 0 = unbounded [256]",
	 "L"},
	{"events", 'e', 0, G_OPTION_ARG_INT64, &opt_events,
	 "burst: events to publish [100000]", "E"},
	{"event-size", 0, 0, G_OPTION_ARG_INT, &opt.event_size,
	 "Approximate bytes of one delivered event [300]", "B"},
	{"drain", 0, 0, G_OPTION_ARG_DOUBLE, &opt_drain,
	 "Seconds to wait for the last events [5; burst 60]", "S"},
	{"pid", 'P', 0, G_OPTION_ARG_INT, &opt.pid,
	 "Server pid: report its RSS and CPU time from /proc", "PID"},
	{"source-ips", 0, 0, G_OPTION_ARG_STRING, &opt.source_ips,
	 "Bind client sockets to these addresses, round robin", "A,B,..."},
	{"concurrency", 'c', 0, G_OPTION_ARG_INT, &opt.concurrency,
	 "Handshakes in flight while connecting [256]", "C"},
	{"sub-events", 0, 0, G_OPTION_ARG_STRING, &opt.sub_events,
	 "Events: header of subscribers' Login [user]", "MASK"},
	{"idle-events", 0, 0, G_OPTION_ARG_STRING, &opt.idle_events,
	 "Events: header of idle sessions' Login [on]", "MASK"},
	{"slow-rcvbuf", 0, 0, G_OPTION_ARG_INT, &opt.slow_rcvbuf,
	 "SO_RCVBUF of slow subscribers, 0 = kernel default [65536]", "B"},
	{"extra-logins", 0, 0, G_OPTION_ARG_INT, &opt.extra_logins,
	 "idle: logins timed while the N sessions are held [5]", "X"},
	{"timeout", 0, 0, G_OPTION_ARG_DOUBLE, &opt.timeout,
	 "Seconds allowed for connecting and logging in [60]", "S"},
	{"label", 'l', 0, G_OPTION_ARG_STRING, &opt.label,
	 "Text copied into the JSON line (e.g. amid, floor)", "TEXT"},
	{"port-file", 0, 0, G_OPTION_ARG_FILENAME, &opt.port_file,
	 "floor: write the port listened on to this file", "FILE"},
	{"queue-limit", 0, 0, G_OPTION_ARG_INT64, &opt_queue_limit,
	 "floor: bytes queued per session before it is dropped [4194304]",
	 "B"},
	G_OPTION_ENTRY_NULL};

static const char *summary =
	"Modes:\n"
	"  ping    N connections, K Pings in flight each; round trips/s and "
	"latency\n"
	"  fanout  1 publisher (UserEvent) to N subscribers; deliveries/s, "
	"latency, losses\n"
	"  login   connect + [Challenge] + Login + Logoff cycles/s, N in "
	"parallel\n"
	"  idle    hold N logged-in sessions; server RSS and CPU (--pid), "
	"N+1-th login\n"
	"  slow    fanout to N healthy subscribers without, then with M that "
	"stop reading\n"
	"  burst   publish E events at once to N subscribers; peak RSS, "
	"drain time, drops\n"
	"  floor   minimal reference AMI server (raw epoll) on --port\n"
	"\n"
	"Each client mode prints a table and one line 'JSON {...}'.";

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void defaults(void)
{
	const char *m = opt.mode;
	bool fan = !strcmp(m, "fanout") || !strcmp(m, "slow") ||
		   !strcmp(m, "burst");
	if (!opt.host)
		opt.host = g_strdup("127.0.0.1");
	if (opt.port < 0)
		opt.port = 5038;
	if (!opt.user)
		opt.user = g_strdup("admin");
	if (!opt.secret)
		opt.secret = g_strdup("amp111");
	if (flag_md5)
		opt.md5 = true;
	else if (opt.auth)
		opt.md5 = !g_ascii_strcasecmp(opt.auth, "md5");
	if (opt.conns <= 0)
		opt.conns = !strcmp(m, "ping")    ? 64
			    : fan                 ? 100
			    : !strcmp(m, "idle")  ? 1000
			    : !strcmp(m, "login") ? 4
						  : 1;
	if (opt.slow < 0)
		opt.slow = 100;
	if (opt.k <= 0)
		opt.k = 1;
	opt.duration = opt_duration >= 0 ? opt_duration
		       : !strcmp(m, "idle")  ? 10
		       : !strcmp(m, "floor") ? 600
					     : 5;
	opt.warmup = opt_warmup >= 0 ? opt_warmup : !strcmp(m, "ping") ? 0.5 : 0;
	if (opt.threads <= 0)
		opt.threads = 1;
	if (opt.window <= 0)
		opt.window = !strcmp(m, "burst") ? 256 : 64;
	if (opt.lag < 0)
		opt.lag = 256;
	opt.events = opt_events > 0 ? opt_events : 100000;
	if (opt.event_size < 0)
		opt.event_size = 300;
	opt.drain = opt_drain >= 0 ? opt_drain : !strcmp(m, "burst") ? 60 : 5;
	if (opt.concurrency <= 0)
		opt.concurrency = 256;
	if (!opt.sub_events)
		opt.sub_events = g_strdup("user");
	if (!opt.idle_events)
		opt.idle_events = g_strdup("on");
	if (!*opt.sub_events)
		opt.sub_events = NULL; /* no Events: header */
	if (opt.idle_events && !*opt.idle_events)
		opt.idle_events = NULL;
	if (opt.slow_rcvbuf < 0)
		opt.slow_rcvbuf = 65536;
	if (opt.extra_logins < 0)
		opt.extra_logins = 5;
	if (opt.timeout <= 0)
		opt.timeout = 60;
	opt.queue_limit = opt_queue_limit > 0 ? opt_queue_limit : 4194304;
}

int main(int argc, char **argv)
{
	opt.port = -1;
	opt.slow = -1;
	opt.lag = -1;
	opt.event_size = -1;
	opt.slow_rcvbuf = -1;
	opt.extra_logins = -1;

	GOptionContext *ctx = g_option_context_new(
		"MODE - load generator and benchmark for AMI servers");
	g_option_context_set_summary(ctx, summary);
	g_option_context_add_main_entries(ctx, entries, NULL);
	GError *err = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "amibench: %s\n", err->message);
		return 2;
	}
	if (argc != 2) {
		char *help = g_option_context_get_help(ctx, TRUE, NULL);
		fputs(help, stderr);
		g_free(help);
		return 2;
	}
	g_option_context_free(ctx);
	opt.mode = argv[1];
	defaults();
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);

	static const struct {
		const char *name;
		int (*fn)(void);
	} modes[] = {
		{"ping", mode_ping},	 {"fanout", mode_fanout},
		{"login", mode_login},	 {"idle", mode_idle},
		{"slow", mode_slow},	 {"burst", mode_burst},
		{"floor", mode_floor},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
		if (strcmp(opt.mode, modes[i].name))
			continue;
		if (strcmp(opt.mode, "floor"))
			target_init();
		return modes[i].fn();
	}
	fprintf(stderr, "amibench: unknown mode '%s' (ping, fanout, login, idle, slow, burst, floor)\n",
		opt.mode);
	return 2;
}
