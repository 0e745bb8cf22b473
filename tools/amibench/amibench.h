/*
 * amibench — load generator and benchmark suite for any AMI server.
 *
 * Shared declarations: options, clock, latency histogram, report
 * (table + one JSON line), /proc readers, and the client connection /
 * event-loop layer (conn.c) that every client mode builds on.
 *
 * Only libc and GLib are used.  Every connection of a loop lives in one
 * epoll set; a loop is driven by one thread at a time.
 */
#ifndef AMIBENCH_H
#define AMIBENCH_H

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* ------------------------------------------------------------ options */

typedef struct {
	const char *mode;
	char *host;
	int port;
	char *user;
	char *secret;
	char *auth; /* "plain" or "md5" */
	bool md5;
	int conns; /* N: connections / subscribers / sessions / parallel */
	int slow; /* M: slow subscribers */
	int k; /* outstanding pings per connection */
	double duration; /* s */
	double warmup; /* s (ping) */
	int threads; /* client I/O threads (ping conns, subscribers) */
	double rate; /* events/s, 0 = as fast as possible */
	int window; /* outstanding UserEvent actions */
	int lag; /* max events in flight end to end, 0 = no bound */
	long events; /* burst: events to publish */
	int event_size; /* approximate bytes of one event */
	double drain; /* s to wait for the last events */
	int pid; /* server pid for /proc readings, 0 = none */
	char *source_ips; /* "127.0.0.1,127.0.0.2" */
	int concurrency; /* handshakes in flight while connecting */
	char *sub_events; /* Events: value of subscribers */
	char *idle_events; /* Events: value of idle sessions */
	int slow_rcvbuf; /* SO_RCVBUF of slow subscribers, 0 = default */
	int extra_logins; /* idle: extra logins measured while holding */
	double timeout; /* s for the connect + login phase */
	char *label; /* free text copied into the JSON line */
	/* floor */
	char *port_file;
	long queue_limit;
	char *bind;
} Opts;

extern Opts opt;

/* ------------------------------------------------------------ clock */

int64_t now_ns(void);
double secs(int64_t ns);

/* ------------------------------------------------------------ histogram */

/* Log-linear histogram of nanosecond values, < 1 % bucket error. */
#define HIST_SUB_BITS 7
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) << HIST_SUB_BITS)

typedef struct {
	uint64_t n;
	uint64_t max;
	uint64_t min;
	double sum;
	uint64_t *b;
} Hist;

void hist_init(Hist *h);
void hist_free(Hist *h);
void hist_reset(Hist *h);
void hist_add(Hist *h, int64_t ns);
void hist_merge(Hist *into, const Hist *from);
/** Value (ns) at quantile q in [0,1]; 0 when empty. */
double hist_q(const Hist *h, double q);

/* ------------------------------------------------------------ report */

typedef struct {
	GString *table;
	GString *json;
} Report;

void report_begin(Report *r, const char *mode);
void report_title(Report *r, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/** A table row (label, formatted value). */
void report_row(Report *r, const char *label, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);
void json_int(Report *r, const char *key, long long v);
void json_num(Report *r, const char *key, double v);
void json_str(Report *r, const char *key, const char *v);
void json_bool(Report *r, const char *key, bool v);
/** Latency fields <prefix>p50_us, p99_us, p999_us, max_us + table row. */
void report_hist(Report *r, const char *label, const char *prefix,
		 const Hist *h);
void report_end(Report *r);
/** A run that could not start: message on stderr and a JSON line. */
int report_fail(const char *mode, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* ------------------------------------------------------------ /proc */

/** VmRSS of @pid in KiB, -1 if unknown. */
long proc_rss_kib(int pid);
/** utime + stime of @pid in seconds, -1 if unknown. */
double proc_cpu_s(int pid);
/**
 * On-CPU time of all threads of @pid in seconds (ns resolution, from
 * /proc/PID/task/{*}/schedstat) and how many times they were scheduled
 * in; -1 if unavailable.
 */
double proc_sched_s(int pid, long long *runs);
/** CPU seconds used by amibench itself (all threads). */
double self_cpu_s(void);

/* ------------------------------------------------------------ errors */

void note_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
const char *first_error(void);
long error_count(void);

/* ------------------------------------------------------------ client */

enum {
	ST_IDLE, /* not opened */
	ST_CONNECTING,
	ST_BANNER,
	ST_CHALLENGE,
	ST_LOGIN,
	ST_READY,
	ST_LOGOFF, /* Logoff sent, waiting for Goodbye / EOF */
	ST_CLOSED,
};

typedef struct Loop Loop;
typedef struct Conn Conn;

struct Conn {
	Loop *loop;
	int fd;
	int id;
	uint8_t state;
	bool failed;
	bool deaf; /* slow subscriber: never reads again */
	bool slow; /* a slow subscriber */
	bool out_armed; /* EPOLLOUT registered */
	bool got_goodbye;
	const char *events; /* Events: header of the Login, NULL = none */
	int rcvbuf; /* SO_RCVBUF, 0 = default */

	char *in;
	size_t in_len, in_cap, scan;
	char *out;
	size_t out_len, out_off, out_cap;

	int64_t t0; /* connect started */
	int64_t t_ready; /* login done */
	int64_t t_closed; /* EOF / error seen */
	int64_t t_read; /* last read() that returned data */
	int64_t max_read_gap; /* longest time between two such reads */

	/* ping */
	uint64_t sent, rcvd;
	int64_t *ring;

	/* subscriber */
	uint64_t base; /* first sequence number of the phase */
	uint64_t next; /* next expected sequence number */
	_Atomic uint64_t got; /* events of the phase received */
	uint64_t gaps, reorder;
	int64_t t_last; /* last event received */
	atomic_int gone; /* closed by the server (set by its loop's thread) */

	/* publisher */
	uint64_t acked;
	uint64_t nacks;
};

typedef void (*ConnFn)(Conn *c);
typedef void (*MsgFn)(Conn *c, char *msg, size_t len);

struct Loop {
	int ep;
	int64_t now; /* refreshed after every epoll_wait and read */
	ConnFn on_ready; /* login done */
	MsgFn on_msg; /* message in ST_READY / ST_LOGOFF */
	ConnFn on_close; /* connection ended (EOF, error) */
	Hist hist; /* mode latency */
	Hist login_hist; /* connect → login accepted */
	long n_ready, n_failed, n_open, n_handshaking;
	size_t in_cap; /* initial input buffer */
	int64_t max_busy; /* longest pass from epoll_wait return to the end of dispatch */
	void *ctx;
};

void loop_init(Loop *l, size_t in_cap);
void loop_free(Loop *l);
/** One epoll_wait (timeout in ms) and dispatch.  Returns events seen. */
int loop_poll(Loop *l, int timeout_ms);

/** Resolve opt.host:opt.port and parse --source-ips.  Exits on failure. */
void target_init(void);

/** Start connecting; the handshake runs from loop_poll. */
bool conn_open(Loop *l, Conn *c);
void conn_close(Conn *c);
void conn_fail(Conn *c, const char *why);
/** Append to the output buffer (sent by conn_flush). */
void conn_queue(Conn *c, const char *data, size_t len);
void conn_flush(Conn *c);
/** Stop reading (watch only for hang-up). */
void conn_make_deaf(Conn *c);
void conn_free_buffers(Conn *c);

/**
 * Open @n connections of @l with at most opt.concurrency handshakes in
 * flight, until all are logged in or failed or @deadline (now_ns()).
 * Returns how many are ready.
 */
long connect_all(Loop *l, Conn *conns, long n, int64_t deadline);

/** Header value inside a message: pointer and length, NULL if absent. */
const char *msg_header(const char *msg, size_t len, const char *name,
		       size_t *vlen);
bool msg_starts(const char *msg, size_t len, const char *prefix);
/** Decimal digits at @p (stops at the first non-digit). */
uint64_t parse_u64(const char *p, size_t len);
/** Write @v in decimal at @dst, return the length. */
int fmt_u64(char *dst, uint64_t v);

/* ------------------------------------------------------------ modes */

int mode_ping(void);
int mode_login(void);
int mode_idle(void);
int mode_fanout(void);
int mode_slow(void);
int mode_burst(void);
int mode_floor(void);

#endif
