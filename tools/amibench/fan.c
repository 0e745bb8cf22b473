/*
 * Event fan-out modes: fanout, slow, burst.
 *
 * One publisher session (main thread) sends "Action: UserEvent" carrying
 * BenchSeq (sequence number) and BenchTs (CLOCK_MONOTONIC ns at send)
 * headers, padded to --event-size.  Subscriber sessions (--threads loops,
 * one thread each) check the sequence numbers and record the delivery
 * latency.  Flow control of the publisher: at most --window actions
 * without their response, at most --lag events ahead of the slowest
 * healthy subscriber (0 = no bound), at most --rate events/s (0 = none).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "amibench.h"

#include <math.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct Fan Fan;

typedef struct {
	Loop loop;
	pthread_t th;
	Fan *f;
} SubThread;

struct Fan {
	Conn *subs; /* healthy subscribers */
	long n;
	Conn *slow; /* subscribers that stop reading after login */
	long m;
	SubThread *st;
	int T;
	Loop pl;
	Conn pub;
	atomic_bool stop;
	int64_t hard_end; /* no thread runs past this */
	uint64_t sent; /* sequence numbers used so far (all phases) */
	char pad[8192];
	size_t pad_len;
	atomic_long dropped; /* healthy subscribers closed by the server */
};

typedef struct {
	uint64_t published, delivered, lost, gaps, reorder, nacks;
	long subs_alive, subs_dropped;
	double events_per_s, deliveries_per_s;
	double publish_s, drain_s, tail_s;
	bool drained;
	Hist hist;
	long rss_start, rss_peak, rss_end;
	double cpu_s, self_cpu_s;
	int64_t max_read_gap; /* longest a healthy subscriber went unread */
	int64_t max_busy; /* longest pass of a subscriber loop */
	int64_t t_first;
} Phase;

/* ------------------------------------------------------------ subscribers */

static void sub_on_ready(Conn *c)
{
	if (c->slow)
		conn_make_deaf(c);
}

static void sub_on_msg(Conn *c, char *msg, size_t len)
{
	if (len < 16 || memcmp(msg, "Event: UserEvent", 16) != 0) {
		if (!msg_starts(msg, len, "Event: UserEvent"))
			return;
	}
	static const char sk[] = "\nBenchSeq: ", tk[] = "\nBenchTs: ";
	const char *end = msg + len;
	const char *p = memmem(msg, len, sk, sizeof(sk) - 1);
	if (!p)
		return;
	p += sizeof(sk) - 1;
	uint64_t seq = parse_u64(p, (size_t)(end - p));
	const char *q = memchr(p, '\n', (size_t)(end - p));
	if (!q || (size_t)(end - q) < sizeof(tk) ||
	    memcmp(q, tk, sizeof(tk) - 1) != 0)
		q = memmem(msg, len, tk, sizeof(tk) - 1);
	int64_t ts = 0;
	if (q) {
		q += sizeof(tk) - 1;
		ts = (int64_t)parse_u64(q, (size_t)(end - q));
	}
	if (seq < c->base)
		return; /* left over from an earlier phase */
	if (seq == c->next) {
		c->next++;
	} else if (seq > c->next) {
		c->gaps += seq - c->next;
		c->next = seq + 1;
	} else {
		c->reorder++;
	}
	Loop *l = c->loop;
	atomic_store_explicit(&c->got,
			      atomic_load_explicit(&c->got, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	c->t_last = l->now;
	if (ts)
		hist_add(&l->hist, l->now - ts);
}

static void sub_on_close(Conn *c)
{
	SubThread *st = c->loop->ctx;
	atomic_store(&c->gone, 1);
	if (!c->slow) {
		atomic_fetch_add(&st->f->dropped, 1);
		note_error("server closed healthy subscriber %d", c->id);
	}
}

static void *sub_thread(void *arg)
{
	SubThread *st = arg;
	Fan *f = st->f;
	while (!atomic_load(&f->stop) && now_ns() < f->hard_end)
		loop_poll(&st->loop, 5);
	return NULL;
}

/* ------------------------------------------------------------ publisher */

static void pub_on_msg(Conn *c, char *msg, size_t len)
{
	if (!msg_starts(msg, len, "Response:"))
		return;
	c->acked++;
	if (!msg_starts(msg, len, "Response: Success")) {
		size_t vl = 0;
		const char *v = msg_header(msg, len, "Message", &vl);
		if (!c->nacks)
			note_error("UserEvent refused: %.*s", (int)MIN(vl, 100),
				   v ? v : "");
		c->nacks++;
	}
}

static void pub_on_close(Conn *c)
{
	note_error("server closed the publisher");
	(void)c;
}

static const char ev_head[] =
	"Action: UserEvent\r\nUserEvent: Bench\r\nBenchSeq: ";

static void fan_set_pad(Fan *f)
{
	/* What the server sends for one event with typical numbers. */
	size_t fixed = strlen("Event: UserEvent\r\nPrivilege: user,all\r\n"
			      "UserEvent: Bench\r\nBenchSeq: 1234567\r\n"
			      "BenchTs: 123456789012345\r\nPad: \r\n\r\n");
	size_t want = opt.event_size > 0 ? (size_t)opt.event_size : 0;
	f->pad_len = want > fixed ? MIN(want - fixed, sizeof(f->pad)) : 0;
	memset(f->pad, 'x', f->pad_len);
}

static void queue_event(Fan *f, uint64_t seq, int64_t ts)
{
	char buf[sizeof(f->pad) + 200];
	size_t n = sizeof(ev_head) - 1;
	memcpy(buf, ev_head, n);
	n += (size_t)fmt_u64(buf + n, seq);
	memcpy(buf + n, "\r\nBenchTs: ", 11);
	n += 11;
	n += (size_t)fmt_u64(buf + n, (uint64_t)ts);
	if (f->pad_len) {
		memcpy(buf + n, "\r\nPad: ", 7);
		n += 7;
		memcpy(buf + n, f->pad, f->pad_len);
		n += f->pad_len;
	}
	memcpy(buf + n, "\r\n\r\n", 4);
	n += 4;
	conn_queue(&f->pub, buf, n);
}

/* Highest sequence number every live healthy subscriber has reached. */
static uint64_t min_reached(Fan *f, uint64_t base)
{
	uint64_t m = UINT64_MAX;
	for (long i = 0; i < f->n; i++) {
		Conn *c = &f->subs[i];
		if (atomic_load_explicit(&c->gone, memory_order_relaxed))
			continue;
		uint64_t r = base + atomic_load_explicit(&c->got,
							 memory_order_relaxed);
		if (r < m)
			m = r;
	}
	return m;
}

typedef struct {
	atomic_bool stop;
	long peak;
	int64_t end;
	pthread_t th;
} Sampler;

static void *sampler_thread(void *arg)
{
	Sampler *s = arg;
	while (!atomic_load(&s->stop) && now_ns() < s->end) {
		long v = proc_rss_kib(opt.pid);
		if (v > s->peak)
			s->peak = v;
		usleep(5000);
	}
	return NULL;
}

/*
 * One measured phase: publish for @duration s or @max_events events,
 * then wait up to @drain s for the healthy subscribers to get them all.
 */
static void run_phase(Fan *f, double duration, long max_events, int lag,
		      double drain, Phase *ph)
{
	memset(ph, 0, sizeof(*ph));
	hist_init(&ph->hist);
	uint64_t base = f->sent;
	for (long i = 0; i < f->n; i++) {
		Conn *c = &f->subs[i];
		c->base = c->next = base;
		atomic_store(&c->got, 0);
		c->gaps = c->reorder = 0;
		c->t_last = 0;
		c->t_read = c->max_read_gap = 0;
	}
	for (int t = 0; t < f->T; t++) {
		hist_reset(&f->st[t].loop.hist);
		f->st[t].loop.max_busy = 0;
	}
	long dropped0 = atomic_load(&f->dropped);

	ph->rss_start = proc_rss_kib(opt.pid);
	double cpu0 = proc_cpu_s(opt.pid), self0 = self_cpu_s();
	int64_t pub_limit = (int64_t)((duration > 0 ? duration : 120) * 1e9);
	f->hard_end = now_ns() + pub_limit + (int64_t)((drain + 10) * 1e9);
	Sampler smp = {.peak = ph->rss_start, .end = f->hard_end};
	atomic_store(&smp.stop, false);
	if (opt.pid)
		pthread_create(&smp.th, NULL, sampler_thread, &smp);
	atomic_store(&f->stop, false);
	for (int t = 0; t < f->T; t++)
		pthread_create(&f->st[t].th, NULL, sub_thread, &f->st[t]);

	Conn *pub = &f->pub;
	Loop *pl = &f->pl;
	uint64_t target = max_events > 0 ? (uint64_t)max_events : UINT64_MAX;
	uint64_t sent = 0, floor_seq = base;
	uint64_t acked0 = pub->acked;
	int64_t t0 = now_ns(), t_end = t0 + pub_limit;
	pl->now = t0;
	while (sent < target && pl->now < t_end && pub->state == ST_READY) {
		uint64_t allowed = target - sent;
		uint64_t out = sent - (pub->acked - acked0);
		int timeout = 0;
		allowed = out >= (uint64_t)opt.window
				  ? 0
				  : MIN(allowed, (uint64_t)opt.window - out);
		if (!allowed)
			timeout = 10; /* wait for responses */
		if (allowed && opt.rate > 0) {
			double el = secs(pl->now - t0);
			uint64_t due = (uint64_t)(el * opt.rate) + 1;
			if (due <= sent) {
				allowed = 0;
				timeout = (int)MAX(
					1, ceil(((double)(sent + 1) / opt.rate - el) * 1e3));
				timeout = MIN(timeout, 10);
			} else {
				allowed = MIN(allowed, due - sent);
			}
		}
		if (allowed && lag > 0) {
			uint64_t ahead = base + sent - floor_seq;
			if (ahead + allowed > (uint64_t)lag) {
				floor_seq = min_reached(f, base);
				if (floor_seq == UINT64_MAX)
					floor_seq = base + sent;
				ahead = base + sent - floor_seq;
				allowed = ahead >= (uint64_t)lag
						  ? 0
						  : MIN(allowed, (uint64_t)lag - ahead);
				if (!allowed)
					timeout = 1;
			}
		}
		allowed = MIN(allowed, 256);
		if (allowed) {
			if (!sent)
				ph->t_first = pl->now;
			for (uint64_t k = 0; k < allowed; k++)
				queue_event(f, base + sent + k, pl->now);
			sent += allowed;
			conn_flush(pub);
		}
		loop_poll(pl, timeout);
	}
	int64_t t_pub = now_ns();
	f->sent = base + sent;
	/* Wait for the responses of the last actions. */
	int64_t dl = t_pub + 5000000000LL;
	while (pub->acked - acked0 < sent && pub->state == ST_READY &&
	       now_ns() < dl)
		loop_poll(pl, 5);
	ph->nacks = pub->nacks;

	/* Drain: every live healthy subscriber has every event. */
	dl = now_ns() + (int64_t)(drain * 1e9);
	for (;;) {
		bool done = true;
		for (long i = 0; i < f->n && done; i++) {
			Conn *c = &f->subs[i];
			if (!atomic_load(&c->gone) &&
			    atomic_load_explicit(&c->got, memory_order_relaxed) <
				    sent)
				done = false;
		}
		if (done) {
			ph->drained = true;
			break;
		}
		if (now_ns() >= dl)
			break;
		loop_poll(pl, 2);
	}
	atomic_store(&f->stop, true);
	for (int t = 0; t < f->T; t++)
		pthread_join(f->st[t].th, NULL);
	if (opt.pid) {
		atomic_store(&smp.stop, true);
		pthread_join(smp.th, NULL);
	}
	ph->rss_peak = smp.peak;
	ph->rss_end = proc_rss_kib(opt.pid);
	double cpu1 = proc_cpu_s(opt.pid);
	ph->cpu_s = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
	ph->self_cpu_s = self_cpu_s() - self0;

	ph->published = sent;
	int64_t t_last = 0;
	for (long i = 0; i < f->n; i++) {
		Conn *c = &f->subs[i];
		uint64_t got = atomic_load(&c->got);
		ph->delivered += got;
		ph->lost += got < sent ? sent - got : 0;
		ph->gaps += c->gaps;
		ph->reorder += c->reorder;
		if (c->t_last > t_last)
			t_last = c->t_last;
		if (c->max_read_gap > ph->max_read_gap)
			ph->max_read_gap = c->max_read_gap;
		if (!atomic_load(&c->gone) && c->state == ST_READY)
			ph->subs_alive++;
	}
	ph->subs_dropped = atomic_load(&f->dropped) - dropped0;
	for (int t = 0; t < f->T; t++) {
		hist_merge(&ph->hist, &f->st[t].loop.hist);
		ph->max_busy = MAX(ph->max_busy, f->st[t].loop.max_busy);
	}
	ph->publish_s = secs(t_pub - (ph->t_first ? ph->t_first : t0));
	ph->events_per_s = ph->publish_s > 0 ? sent / ph->publish_s : 0;
	if (t_last > ph->t_first && ph->t_first) {
		ph->drain_s = secs(t_last - ph->t_first);
		ph->tail_s = secs(t_last - t_pub);
		ph->deliveries_per_s = ph->delivered / ph->drain_s;
	}
}

/* ------------------------------------------------------------ setup */

static void fan_init(Fan *f, long n, long m)
{
	memset(f, 0, sizeof(*f));
	f->n = n;
	f->m = m;
	f->subs = g_new0(Conn, n);
	f->slow = g_new0(Conn, m > 0 ? m : 1);
	f->T = (int)MAX(1, MIN(opt.threads, n + m));
	f->st = g_new0(SubThread, f->T);
	for (int t = 0; t < f->T; t++) {
		SubThread *st = &f->st[t];
		loop_init(&st->loop, 32768);
		st->loop.ctx = st;
		st->loop.on_ready = sub_on_ready;
		st->loop.on_msg = sub_on_msg;
		st->loop.on_close = sub_on_close;
		st->f = f;
	}
	for (long i = 0; i < n; i++) {
		f->subs[i].id = (int)i;
		f->subs[i].events = opt.sub_events;
	}
	for (long i = 0; i < m; i++) {
		f->slow[i].id = (int)(n + i);
		f->slow[i].events = opt.sub_events;
		f->slow[i].slow = true;
		f->slow[i].rcvbuf = opt.slow_rcvbuf;
	}
	loop_init(&f->pl, 65536);
	f->pl.on_msg = pub_on_msg;
	f->pl.on_close = pub_on_close;
	f->pub.id = -1;
	f->pub.events = "off";
	fan_set_pad(f);
}

/* Spread @conns over the subscriber loops and log them in. */
static long fan_connect(Fan *f, Conn *conns, long n)
{
	int64_t dl = now_ns() + (int64_t)(opt.timeout * 1e9);
	long per = n / f->T, extra = n % f->T, at = 0, ready = 0;
	for (int t = 0; t < f->T; t++) {
		long k = per + (t < extra ? 1 : 0);
		ready += connect_all(&f->st[t].loop, conns + at, k, dl);
		at += k;
	}
	return ready;
}

static bool fan_connect_pub(Fan *f)
{
	connect_all(&f->pl, &f->pub, 1, now_ns() + (int64_t)(opt.timeout * 1e9));
	return f->pub.state == ST_READY;
}

static void fan_free(Fan *f)
{
	for (long i = 0; i < f->n; i++) {
		conn_close(&f->subs[i]);
		conn_free_buffers(&f->subs[i]);
	}
	for (long i = 0; i < f->m; i++) {
		conn_close(&f->slow[i]);
		conn_free_buffers(&f->slow[i]);
	}
	conn_close(&f->pub);
	conn_free_buffers(&f->pub);
	for (int t = 0; t < f->T; t++)
		loop_free(&f->st[t].loop);
	loop_free(&f->pl);
	g_free(f->st);
	g_free(f->subs);
	g_free(f->slow);
}

static void report_phase(Report *r, const char *prefix, const char *title,
			 Phase *ph)
{
	char k[64], lbl[96];
#define KEY(s) (g_snprintf(k, sizeof(k), "%s%s", prefix, s), k)
#define LBL(s) (g_snprintf(lbl, sizeof(lbl), "%s%s", title, s), lbl)
	report_row(r, LBL("events published"),
		   "%" G_GUINT64_FORMAT " in %.2f s (%.0f /s)", ph->published,
		   ph->publish_s, ph->events_per_s);
	json_int(r, KEY("published"), (long long)ph->published);
	json_num(r, KEY("events_per_s"), round(ph->events_per_s));
	report_row(r, LBL("deliveries"),
		   "%" G_GUINT64_FORMAT " in %.2f s (%.0f /s)", ph->delivered,
		   ph->drain_s, ph->deliveries_per_s);
	json_int(r, KEY("delivered"), (long long)ph->delivered);
	json_num(r, KEY("deliveries_per_s"), round(ph->deliveries_per_s));
	json_num(r, KEY("drain_s"), round(ph->drain_s * 1000) / 1000);
	json_num(r, KEY("tail_s"), round(ph->tail_s * 1000) / 1000);
	report_hist(r, LBL("delivery latency"), prefix, &ph->hist);
	report_row(r, LBL("lost events"),
		   "%" G_GUINT64_FORMAT " (gaps %" G_GUINT64_FORMAT
		   ", reordered %" G_GUINT64_FORMAT ")%s",
		   ph->lost, ph->gaps, ph->reorder,
		   ph->drained ? "" : "  NOT DRAINED");
	json_int(r, KEY("lost"), (long long)ph->lost);
	json_int(r, KEY("reordered"), (long long)ph->reorder);
	json_bool(r, KEY("drained"), ph->drained);
	report_row(r, LBL("subscribers dropped by server"), "%ld",
		   ph->subs_dropped);
	json_int(r, KEY("dropped_subs"), ph->subs_dropped);
	if (ph->nacks)
		json_int(r, KEY("nacks"), (long long)ph->nacks);
	if (ph->cpu_s >= 0) {
		report_row(r, LBL("server CPU"), "%.2f s (%.2f us per delivery)",
			   ph->cpu_s,
			   ph->delivered ? ph->cpu_s / ph->delivered * 1e6 : 0);
		json_num(r, KEY("server_cpu_s"), ph->cpu_s);
	}
	report_row(r, LBL("amibench CPU"), "%.2f s (longest: subscriber loop pass %.1f ms, gap between reads of one subscriber %.1f ms)",
		   ph->self_cpu_s, ph->max_busy / 1e6, ph->max_read_gap / 1e6);
	json_num(r, KEY("client_max_pass_ms"), round(ph->max_busy / 1e5) / 10);
	json_num(r, KEY("client_max_read_gap_ms"), round(ph->max_read_gap / 1e5) / 10);
	json_num(r, KEY("client_cpu_s"), ph->self_cpu_s);
	if (ph->rss_start >= 0) {
		report_row(r, LBL("server RSS"),
			   "start %ld KiB, peak %ld KiB, end %ld KiB",
			   ph->rss_start, ph->rss_peak, ph->rss_end);
		json_int(r, KEY("rss_start_kib"), ph->rss_start);
		json_int(r, KEY("rss_peak_kib"), ph->rss_peak);
		json_int(r, KEY("rss_end_kib"), ph->rss_end);
	}
#undef KEY
#undef LBL
}

static void report_common(Report *r, Fan *f)
{
	json_int(r, "subs", f->n);
	json_int(r, "event_size", opt.event_size);
	json_num(r, "rate", opt.rate);
	json_int(r, "window", opt.window);
	json_int(r, "threads", f->T);
}

/* ------------------------------------------------------------ modes */

int mode_fanout(void)
{
	Fan f;
	fan_init(&f, opt.conns, 0);
	long ready = fan_connect(&f, f.subs, f.n);
	if (ready < f.n || !fan_connect_pub(&f)) {
		report_fail("fanout", "%ld/%ld subscribers, publisher %s (%s)",
			    ready, f.n, f.pub.state == ST_READY ? "ok" : "failed",
			    first_error());
		fan_free(&f);
		return 1;
	}
	Phase ph;
	run_phase(&f, opt.duration, 0, opt.lag, opt.drain, &ph);

	Report r;
	char rate[32] = "max";
	if (opt.rate > 0)
		g_snprintf(rate, sizeof(rate), "%.0f/s", opt.rate);
	report_begin(&r, "fanout");
	report_title(&r, "amibench fanout  %s:%d  subscribers=%ld event=%d B rate=%s window=%d lag=%d  %.1f s",
		     opt.host, opt.port, f.n, opt.event_size, rate,
		     opt.window, opt.lag, opt.duration);
	report_common(&r, &f);
	json_int(&r, "lag", opt.lag);
	json_num(&r, "duration_s", opt.duration);
	report_phase(&r, "", "", &ph);
	report_end(&r);
	int rc = ph.lost || !ph.published ? 1 : 0;
	hist_free(&ph.hist);
	fan_free(&f);
	return rc;
}

/*
 * Read a slow subscriber's socket to the end of what is there (50 ms of
 * silence).  True if the server closed it; *@last_ts gets the BenchTs of
 * the last event seen.
 */
static bool probe_slow(Conn *c, int64_t *last_ts, int64_t deadline)
{
	static char buf[1 << 16];
	static const char tk[] = "BenchTs: ";
	size_t total = 0;
	while (now_ns() < deadline && total < (256u << 20)) {
		ssize_t n = read(c->fd, buf, sizeof(buf));
		if (n > 0) {
			total += (size_t)n;
			const char *p = buf, *end = buf + n, *hit = NULL;
			while ((p = memmem(p, (size_t)(end - p), tk,
					   sizeof(tk) - 1))) {
				hit = p;
				p += sizeof(tk) - 1;
			}
			if (hit) {
				hit += sizeof(tk) - 1;
				const char *q = hit;
				while (q < end && *q >= '0' && *q <= '9')
					q++;
				if (q < end) /* complete number */
					*last_ts = (int64_t)parse_u64(hit, (size_t)(q - hit));
			}
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return true; /* EOF or reset */
		if (errno == EINTR)
			continue;
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		if (poll(&pfd, 1, 50) <= 0)
			return false; /* quiet: still connected */
	}
	return false;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int mode_slow(void)
{
	Fan f;
	fan_init(&f, opt.conns, opt.slow);
	long ready = fan_connect(&f, f.subs, f.n);
	if (ready < f.n || !fan_connect_pub(&f)) {
		report_fail("slow", "%ld/%ld subscribers, publisher %s (%s)",
			    ready, f.n, f.pub.state == ST_READY ? "ok" : "failed",
			    first_error());
		fan_free(&f);
		return 1;
	}
	Phase a, b;
	run_phase(&f, opt.duration, 0, opt.lag, opt.drain, &a);

	long slow_ready = fan_connect(&f, f.slow, f.m);
	int64_t tb = now_ns();
	run_phase(&f, opt.duration, 0, opt.lag, opt.drain, &b);
	int64_t b_start = b.t_first ? b.t_first : tb;

	/*
	 * When did the server drop the slow ones?  A reset or a FIN that
	 * reached us was timed by the loop.  A FIN queued behind unread data
	 * cannot reach a client that does not read, so read what is left:
	 * EOF means dropped, and the BenchTs of the last event in the stream
	 * tells when the server last wrote to it (a lower bound).
	 */
	int64_t *drops = g_new0(int64_t, f.m + 1);
	long nd = 0, n_probed = 0;
	int64_t probe_end = now_ns() + 10000000000LL;
	for (long i = 0; i < f.m; i++) {
		Conn *c = &f.slow[i];
		if (!c->t_ready)
			continue;
		if (atomic_load(&c->gone)) {
			drops[nd++] = c->t_closed - b_start;
			continue;
		}
		int64_t last_ts = 0;
		if (c->state == ST_READY &&
		    probe_slow(c, &last_ts, probe_end)) {
			n_probed++;
			drops[nd++] = (last_ts ? last_ts : now_ns()) - b_start;
		}
	}
	qsort(drops, (size_t)nd, sizeof(int64_t), cmp_i64);

	/* Phase C: slow ones gone again; A and C bracket B against drift. */
	for (long i = 0; i < f.m; i++)
		conn_close(&f.slow[i]);
	g_usleep(200000);
	Phase cc;
	run_phase(&f, opt.duration, 0, opt.lag, opt.drain, &cc);

	Report r;
	report_begin(&r, "slow");
	report_title(&r, "amibench slow  %s:%d  healthy=%ld slow=%ld (rcvbuf %d) event=%d B lag=%d  3 x %.1f s",
		     opt.host, opt.port, f.n, f.m, opt.slow_rcvbuf,
		     opt.event_size, opt.lag, opt.duration);
	report_common(&r, &f);
	json_int(&r, "slow", f.m);
	json_int(&r, "slow_ready", slow_ready);
	json_int(&r, "slow_rcvbuf", opt.slow_rcvbuf);
	json_int(&r, "lag", opt.lag);
	json_num(&r, "duration_s", opt.duration);
	report_title(&r, " phase A: %ld healthy subscribers only", f.n);
	report_phase(&r, "a_", "A ", &a);
	report_title(&r, " phase B: + %ld slow subscribers that stopped reading", slow_ready);
	report_phase(&r, "b_", "B ", &b);
	report_title(&r, " phase C: healthy subscribers only again");
	report_phase(&r, "c_", "C ", &cc);
	double base = (a.deliveries_per_s + cc.deliveries_per_s) / 2;
	double impact = base > 0 ? (1 - b.deliveries_per_s / base) * 100 : 0;
	report_title(&r, " comparison");
	report_row(&r, "throughput impact", "%.1f %% (B vs the mean of A and C; A vs C differ by %.1f %%)",
		   impact, base > 0 ? fabs(a.deliveries_per_s - cc.deliveries_per_s) / base * 100 : 0);
	json_num(&r, "impact_pct", round(impact * 10) / 10);
	json_num(&r, "drift_pct", base > 0 ? round(fabs(a.deliveries_per_s - cc.deliveries_per_s) / base * 1000) / 10 : 0);
	double p99a = (hist_q(&a.hist, 0.99) + hist_q(&cc.hist, 0.99)) / 2,
	       p99b = hist_q(&b.hist, 0.99);
	report_row(&r, "p99 latency B / mean(A, C)", "%.2f", p99a > 0 ? p99b / p99a : 0);
	json_num(&r, "p99_ratio", p99a > 0 ? round(p99b / p99a * 100) / 100 : 0);
	report_row(&r, "slow subscribers dropped", "%ld of %ld (%ld found by reading after phase B)",
		   nd, slow_ready, n_probed);
	json_int(&r, "slow_dropped", nd);
	if (nd) {
		report_row(&r, "dropped, after phase B start",
			   "first %.0f ms, median %.0f ms, last %.0f ms",
			   drops[0] / 1e6, drops[nd / 2] / 1e6, drops[nd - 1] / 1e6);
		json_num(&r, "slow_drop_first_ms", round(drops[0] / 1e6));
		json_num(&r, "slow_drop_median_ms", round(drops[nd / 2] / 1e6));
		json_num(&r, "slow_drop_last_ms", round(drops[nd - 1] / 1e6));
	}
	report_end(&r);
	int rc = a.lost || b.lost || cc.lost ? 1 : 0;
	g_free(drops);
	hist_free(&a.hist);
	hist_free(&b.hist);
	hist_free(&cc.hist);
	fan_free(&f);
	return rc;
}

int mode_burst(void)
{
	Fan f;
	fan_init(&f, opt.conns, 0);
	long ready = fan_connect(&f, f.subs, f.n);
	if (ready < f.n || !fan_connect_pub(&f)) {
		report_fail("burst", "%ld/%ld subscribers, publisher %s (%s)",
			    ready, f.n, f.pub.state == ST_READY ? "ok" : "failed",
			    first_error());
		fan_free(&f);
		return 1;
	}
	Phase ph;
	run_phase(&f, 0, opt.events, 0, opt.drain, &ph);

	Report r;
	report_begin(&r, "burst");
	report_title(&r, "amibench burst  %s:%d  events=%ld subscribers=%ld event=%d B window=%d",
		     opt.host, opt.port, opt.events, f.n, opt.event_size,
		     opt.window);
	report_common(&r, &f);
	json_int(&r, "events", opt.events);
	report_phase(&r, "", "", &ph);
	double ev_bytes = (double)ph.published * opt.event_size;
	report_row(&r, "drain time", "%.2f s from first send to last delivery (%.2f s after the last send)",
		   ph.drain_s, ph.tail_s);
	if (ph.rss_start >= 0) {
		double growth = (double)(ph.rss_peak - ph.rss_start) * 1024;
		report_row(&r, "peak RSS growth", "%.1f MiB = %.2f x the event bytes (%.1f MiB)",
			   growth / 1048576, ev_bytes > 0 ? growth / ev_bytes : 0,
			   ev_bytes / 1048576);
		json_int(&r, "rss_growth_kib", ph.rss_peak - ph.rss_start);
		json_num(&r, "rss_growth_x_event_bytes",
			 ev_bytes > 0 ? round(growth / ev_bytes * 100) / 100 : 0);
	}
	report_end(&r);
	int rc = ph.lost ? 1 : 0;
	hist_free(&ph.hist);
	fan_free(&f);
	return rc;
}
