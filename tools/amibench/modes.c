/* Client modes ping, login and idle. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "amibench.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void wait_ms(Loop *l, double ms)
{
	int64_t end = now_ns() + (int64_t)(ms * 1e6);
	while (now_ns() < end)
		loop_poll(l, (int)MAX(1, MIN(50, (end - now_ns()) / 1000000)));
}

/* ================================================================ ping */

typedef struct {
	Loop loop;
	Conn *conns;
	long n;
	uint64_t rtts; /* responses received inside the window */
	uint64_t order_errors; /* ActionID not the next expected */
	uint64_t bad; /* Response other than Success */
	pthread_t th;
} PingThread;

static int64_t ping_t_meas, ping_t_end;

static void ping_send(Conn *c)
{
	char buf[64] = "Action: Ping\r\nActionID: ";
	size_t n = strlen(buf);
	n += (size_t)fmt_u64(buf + n, c->sent);
	memcpy(buf + n, "\r\n\r\n", 4);
	n += 4;
	c->ring[c->sent % (uint64_t)opt.k] = c->loop->now;
	c->sent++;
	conn_queue(c, buf, n);
}

static void ping_on_msg(Conn *c, char *msg, size_t len)
{
	if (!msg_starts(msg, len, "Response:"))
		return; /* an event */
	PingThread *pt = c->loop->ctx;
	size_t vl = 0;
	const char *v = msg_header(msg, len, "ActionID", &vl);
	uint64_t seq = v ? parse_u64(v, vl) : c->rcvd;
	if (seq != c->rcvd || seq >= c->sent) {
		pt->order_errors++;
		seq = c->rcvd;
	}
	if (!msg_starts(msg, len, "Response: Success"))
		pt->bad++;
	int64_t now = c->loop->now;
	if (seq < c->sent && now >= ping_t_meas && now < ping_t_end) {
		int64_t ts = c->ring[seq % (uint64_t)opt.k];
		hist_add(&c->loop->hist, now - ts);
		pt->rtts++;
	}
	c->rcvd++;
	if (now < ping_t_end)
		ping_send(c);
}

static void ping_on_close(Conn *c)
{
	note_error("connection %d closed by the server during ping", c->id);
}

static void *ping_thread(void *arg)
{
	PingThread *pt = arg;
	Loop *l = &pt->loop;
	l->now = now_ns();
	for (long i = 0; i < pt->n; i++) {
		Conn *c = &pt->conns[i];
		if (c->state != ST_READY)
			continue;
		for (int k = 0; k < opt.k; k++)
			ping_send(c);
		conn_flush(c);
	}
	while (now_ns() < ping_t_end)
		loop_poll(l, 10);
	return NULL;
}

int mode_ping(void)
{
	int T = MAX(1, MIN(opt.threads, opt.conns));
	PingThread *pts = g_new0(PingThread, T);
	Conn *conns = g_new0(Conn, opt.conns);
	long per = opt.conns / T, extra = opt.conns % T, at = 0;
	long ready = 0;
	int64_t deadline = now_ns() + (int64_t)(opt.timeout * 1e9);
	for (int t = 0; t < T; t++) {
		PingThread *pt = &pts[t];
		loop_init(&pt->loop, 4096);
		pt->loop.ctx = pt;
		pt->loop.on_msg = ping_on_msg;
		pt->loop.on_close = ping_on_close;
		pt->conns = conns + at;
		pt->n = per + (t < extra ? 1 : 0);
		for (long i = 0; i < pt->n; i++) {
			Conn *c = &pt->conns[i];
			c->id = (int)(at + i);
			c->events = "off";
			c->ring = g_new0(int64_t, opt.k);
		}
		at += pt->n;
		ready += connect_all(&pt->loop, pt->conns, pt->n, deadline);
	}
	if (ready == 0)
		return report_fail("ping", "no connection logged in (%s)",
				   first_error());

	ping_t_meas = now_ns() + (int64_t)(opt.warmup * 1e9);
	ping_t_end = ping_t_meas + (int64_t)(opt.duration * 1e9);
	for (int t = 0; t < T; t++)
		pthread_create(&pts[t].th, NULL, ping_thread, &pts[t]);
	/* Server CPU over the measured window only. */
	while (now_ns() < ping_t_meas)
		g_usleep(1000);
	double cpu0 = proc_cpu_s(opt.pid), self0 = self_cpu_s();
	while (now_ns() < ping_t_end)
		g_usleep(1000);
	double cpu1 = proc_cpu_s(opt.pid), self1 = self_cpu_s();
	Hist h;
	hist_init(&h);
	uint64_t rtts = 0, order = 0, bad = 0;
	for (int t = 0; t < T; t++) {
		pthread_join(pts[t].th, NULL);
		hist_merge(&h, &pts[t].loop.hist);
		rtts += pts[t].rtts;
		order += pts[t].order_errors;
		bad += pts[t].bad;
	}
	double dur = secs(ping_t_end - ping_t_meas);

	Report r;
	report_begin(&r, "ping");
	report_title(&r, "amibench ping  %s:%d  conns=%d k=%d threads=%d  %.1f s (+%.1f s warm-up)",
		     opt.host, opt.port, opt.conns, opt.k, T, opt.duration,
		     opt.warmup);
	json_int(&r, "conns", opt.conns);
	json_int(&r, "k", opt.k);
	json_int(&r, "threads", T);
	json_num(&r, "duration_s", opt.duration);
	report_row(&r, "connections logged in", "%ld / %d", ready, opt.conns);
	json_int(&r, "ready", ready);
	report_row(&r, "round trips", "%" G_GUINT64_FORMAT, rtts);
	report_row(&r, "round trips/s", "%.0f", rtts / dur);
	json_num(&r, "rtt_per_s", round(rtts / dur));
	report_hist(&r, "latency", "", &h);
	if (order || bad) {
		report_row(&r, "out-of-order / non-Success", "%" G_GUINT64_FORMAT
			   " / %" G_GUINT64_FORMAT, order, bad);
	}
	json_int(&r, "order_errors", (long long)order);
	json_int(&r, "bad_responses", (long long)bad);
	if (cpu0 >= 0 && cpu1 >= 0) {
		report_row(&r, "server CPU", "%.2f s (%.2f us per round trip)",
			   cpu1 - cpu0, rtts ? (cpu1 - cpu0) / rtts * 1e6 : 0);
		json_num(&r, "server_cpu_s", cpu1 - cpu0);
	}
	report_row(&r, "amibench CPU", "%.2f s", self1 - self0);
	json_num(&r, "client_cpu_s", self1 - self0);
	report_end(&r);

	for (int i = 0; i < opt.conns; i++) {
		conn_close(&conns[i]);
		conn_free_buffers(&conns[i]);
	}
	for (int t = 0; t < T; t++)
		loop_free(&pts[t].loop);
	hist_free(&h);
	g_free(conns);
	g_free(pts);
	return ready == opt.conns ? 0 : 1;
}

/* ================================================================ login */

typedef struct {
	Loop loop;
	Conn *conns;
	int n;
	uint64_t cycles;
	uint64_t no_goodbye;
	pthread_t th;
} LoginThread;

static int64_t login_t_start, login_t_end;

static void login_on_ready(Conn *c)
{
	static const char logoff[] = "Action: Logoff\r\n\r\n";
	conn_queue(c, logoff, sizeof(logoff) - 1);
	c->state = ST_LOGOFF;
}

static void login_on_msg(Conn *c, char *msg, size_t len)
{
	if (c->state == ST_LOGOFF && msg_starts(msg, len, "Response:")) {
		if (!msg_starts(msg, len, "Response: Goodbye"))
			note_error("Logoff answered without Goodbye");
		c->got_goodbye = true;
	}
}

/* The server closed after Goodbye: one cycle done. */
static void login_on_close(Conn *c)
{
	Loop *l = c->loop;
	LoginThread *lt = l->ctx;
	if (!c->got_goodbye) {
		lt->no_goodbye++;
		note_error("connection closed before Goodbye");
		return;
	}
	if (l->now >= login_t_start && l->now < login_t_end) {
		lt->cycles++;
		hist_add(&l->hist, l->now - c->t0);
	}
}

static void *login_thread(void *arg)
{
	LoginThread *lt = arg;
	Loop *l = &lt->loop;
	const int64_t cycle_timeout = 5000000000LL;
	long max_fail = 1000 + 10L * lt->n;
	l->now = now_ns();
	while (l->now < login_t_end && l->n_failed < max_fail) {
		for (int i = 0; i < lt->n; i++) {
			Conn *c = &lt->conns[i];
			if (c->state == ST_CLOSED || c->state == ST_IDLE)
				conn_open(l, c);
			else if (l->now - c->t0 > cycle_timeout)
				conn_fail(c, "login cycle took over 5 s");
		}
		loop_poll(l, 10);
	}
	/* Let the cycles in flight finish (they are not counted). */
	int64_t end = now_ns() + 1000000000LL;
	while (l->n_open && now_ns() < end)
		loop_poll(l, 10);
	for (int i = 0; i < lt->n; i++)
		conn_close(&lt->conns[i]);
	return NULL;
}

int mode_login(void)
{
	int P = opt.conns;
	int T = MAX(1, MIN(opt.threads, P));
	LoginThread *lts = g_new0(LoginThread, T);
	Conn *conns = g_new0(Conn, P);
	for (int i = 0; i < P; i++) {
		conns[i].id = i;
		conns[i].events = "off";
	}
	int at = 0;
	for (int t = 0; t < T; t++) {
		LoginThread *lt = &lts[t];
		loop_init(&lt->loop, 2048);
		lt->loop.ctx = lt;
		lt->loop.on_ready = login_on_ready;
		lt->loop.on_msg = login_on_msg;
		lt->loop.on_close = login_on_close;
		lt->conns = conns + at;
		lt->n = P / T + (t < P % T ? 1 : 0);
		at += lt->n;
	}
	double cpu0 = proc_cpu_s(opt.pid), self0 = self_cpu_s();
	login_t_start = now_ns() + (int64_t)(opt.warmup * 1e9);
	login_t_end = login_t_start + (int64_t)(opt.duration * 1e9);
	for (int t = 0; t < T; t++)
		pthread_create(&lts[t].th, NULL, login_thread, &lts[t]);
	Hist h, lh;
	hist_init(&h);
	hist_init(&lh);
	uint64_t cycles = 0, no_goodbye = 0;
	long failed = 0;
	for (int t = 0; t < T; t++) {
		pthread_join(lts[t].th, NULL);
		hist_merge(&h, &lts[t].loop.hist);
		hist_merge(&lh, &lts[t].loop.login_hist);
		cycles += lts[t].cycles;
		no_goodbye += lts[t].no_goodbye;
		failed += lts[t].loop.n_failed;
	}
	double cpu1 = proc_cpu_s(opt.pid), self1 = self_cpu_s();

	double dur = opt.duration;
	Report r;
	report_begin(&r, "login");
	report_title(&r, "amibench login  %s:%d  parallel=%d auth=%s threads=%d  %.1f s",
		     opt.host, opt.port, P, opt.md5 ? "md5" : "plain", T,
		     opt.duration);
	json_int(&r, "parallel", P);
	json_str(&r, "auth", opt.md5 ? "md5" : "plain");
	json_int(&r, "threads", T);
	json_num(&r, "duration_s", dur);
	report_row(&r, "login cycles", "%" G_GUINT64_FORMAT, cycles);
	report_row(&r, "login cycles/s", "%.0f", cycles / dur);
	json_num(&r, "logins_per_s", round(cycles / dur));
	report_hist(&r, "cycle latency", "", &h);
	report_hist(&r, "connect to login accepted", "login_", &lh);
	report_row(&r, "failed / no Goodbye", "%ld / %" G_GUINT64_FORMAT,
		   failed, no_goodbye);
	json_int(&r, "failed", failed);
	if (cpu0 >= 0 && cpu1 >= 0) {
		report_row(&r, "server CPU", "%.2f s (%.1f us per cycle)",
			   cpu1 - cpu0, cycles ? (cpu1 - cpu0) / cycles * 1e6 : 0);
		json_num(&r, "server_cpu_s", cpu1 - cpu0);
	}
	report_row(&r, "amibench CPU", "%.2f s", self1 - self0);
	json_num(&r, "client_cpu_s", self1 - self0);
	report_end(&r);
	for (int i = 0; i < P; i++)
		conn_free_buffers(&conns[i]);
	for (int t = 0; t < T; t++)
		loop_free(&lts[t].loop);
	hist_free(&h);
	hist_free(&lh);
	g_free(conns);
	g_free(lts);
	return cycles ? 0 : 1;
}

/* ================================================================ idle */

typedef struct {
	uint64_t msgs; /* messages received while holding */
	uint64_t dropped; /* sessions the server closed */
} IdleCtx;

static void idle_on_msg(Conn *c, char *msg, size_t len)
{
	(void)msg;
	(void)len;
	((IdleCtx *)c->loop->ctx)->msgs++;
}

static void idle_on_close(Conn *c)
{
	((IdleCtx *)c->loop->ctx)->dropped++;
	note_error("server closed idle session %d", c->id);
}

int mode_idle(void)
{
	long N = opt.conns;
	Loop l;
	loop_init(&l, 1024);
	IdleCtx ic = {0};
	l.ctx = &ic;
	l.on_msg = idle_on_msg;
	l.on_close = idle_on_close;
	Conn *conns = g_new0(Conn, N + opt.extra_logins);
	for (long i = 0; i < N + opt.extra_logins; i++) {
		conns[i].id = (int)i;
		conns[i].events = opt.idle_events;
	}

	long rss0 = proc_rss_kib(opt.pid);
	double cpu0 = proc_cpu_s(opt.pid);
	int64_t t0 = now_ns();
	long ready = connect_all(&l, conns, N,
				 t0 + (int64_t)(opt.timeout * 1e9));
	int64_t t1 = now_ns();
	Hist login_hist;
	hist_init(&login_hist);
	hist_merge(&login_hist, &l.login_hist);
	hist_reset(&l.login_hist);
	wait_ms(&l, 500); /* let the server settle */
	ic.msgs = 0;

	/* Hold: nothing is sent; count what arrives. */
	long rss1 = proc_rss_kib(opt.pid);
	long long runs1 = -1, runs2 = -1;
	double cpu1 = proc_cpu_s(opt.pid), sch1 = proc_sched_s(opt.pid, &runs1);
	int64_t hold_start = now_ns();
	int64_t hold_end = hold_start + (int64_t)(opt.duration * 1e9);
	while (now_ns() < hold_end)
		loop_poll(&l, (int)MAX(1, MIN(1000, (hold_end - now_ns()) / 1000000)));
	double cpu2 = proc_cpu_s(opt.pid), sch2 = proc_sched_s(opt.pid, &runs2);
	long rss2 = proc_rss_kib(opt.pid);
	double hold = secs(now_ns() - hold_start);
	uint64_t hold_msgs = ic.msgs;

	/* Extra logins while the others are held: N+1, N+2, ... */
	Hist extra;
	hist_init(&extra);
	double first_extra_ms = -1;
	for (int i = 0; i < opt.extra_logins; i++) {
		Conn *c = &conns[N + i];
		int64_t dl = now_ns() + 5000000000LL;
		if (!conn_open(&l, c))
			continue;
		while (c->state != ST_READY && c->state != ST_CLOSED &&
		       now_ns() < dl)
			loop_poll(&l, 5);
		if (c->state == ST_READY) {
			hist_add(&extra, c->t_ready - c->t0);
			if (first_extra_ms < 0)
				first_extra_ms = (double)(c->t_ready - c->t0) / 1e6;
		} else {
			conn_fail(c, "extra login did not finish in 5 s");
		}
		conn_close(c);
		wait_ms(&l, 20);
	}
	for (long i = 0; i < N; i++)
		conn_close(&conns[i]);

	Report r;
	report_begin(&r, "idle");
	report_title(&r, "amibench idle  %s:%d  sessions=%ld events=%s  hold %.1f s",
		     opt.host, opt.port, N, opt.idle_events ? opt.idle_events : "-",
		     opt.duration);
	json_int(&r, "sessions", N);
	json_int(&r, "ready", ready);
	json_num(&r, "hold_s", round(hold * 100) / 100);
	report_row(&r, "sessions logged in", "%ld / %ld in %.2f s (%.0f logins/s)",
		   ready, N, secs(t1 - t0), ready / secs(t1 - t0));
	json_num(&r, "connect_s", round(secs(t1 - t0) * 1000) / 1000);
	report_hist(&r, "login latency while connecting", "connect_login_",
		    &login_hist);
	if (rss0 >= 0) {
		double per = ready ? (double)(rss1 - rss0) * 1024.0 / ready : 0;
		report_row(&r, "server RSS", "before %ld KiB, logged in %ld KiB, after hold %ld KiB",
			   rss0, rss1, rss2);
		report_row(&r, "server RSS per session", "%.0f B (%.2f KiB)",
			   per, per / 1024);
		json_int(&r, "rss_before_kib", rss0);
		json_int(&r, "rss_after_kib", rss1);
		json_int(&r, "rss_end_kib", rss2);
		json_num(&r, "rss_per_session_b", round(per));
	}
	if (cpu0 >= 0) {
		/* utime+stime counts whole clock ticks (10 ms): too coarse for a
		 * short hold, so the per-60 s figure uses schedstat when there. */
		double held = sch1 >= 0 && sch2 >= 0 ? sch2 - sch1 : cpu2 - cpu1;
		report_row(&r, "server CPU", "%.2f s connecting; in the %.1f s hold: utime+stime %.3f s, on-CPU %.6f s (%.4f s per 60 s)",
			   cpu1 - cpu0, hold, cpu2 - cpu1, held, held * 60 / hold);
		json_num(&r, "cpu_connect_s", cpu1 - cpu0);
		json_num(&r, "cpu_hold_s", cpu2 - cpu1);
		json_num(&r, "cpu_hold_sched_s", round(held * 1e6) / 1e6);
		json_num(&r, "cpu_per_60s", round(held * 60 / hold * 1e4) / 1e4);
		if (runs1 >= 0 && runs2 >= 0) {
			report_row(&r, "server thread wake-ups in hold", "%lld (%.1f /s)",
				   runs2 - runs1, (runs2 - runs1) / hold);
			json_int(&r, "hold_wakeups", runs2 - runs1);
		}
	}
	report_row(&r, "messages received in hold", "%" G_GUINT64_FORMAT,
		   hold_msgs);
	json_int(&r, "hold_msgs", (long long)hold_msgs);
	report_row(&r, "sessions dropped by server", "%" G_GUINT64_FORMAT,
		   ic.dropped);
	json_int(&r, "dropped", (long long)ic.dropped);
	report_row(&r, "extra login (N+1) latency", "%.2f ms (first), max of %"
		   G_GUINT64_FORMAT " %.2f ms",
		   first_extra_ms, extra.n, (double)extra.max / 1e6);
	json_num(&r, "extra_login_ms", round(first_extra_ms * 1000) / 1000);
	json_num(&r, "extra_login_max_ms", round((double)extra.max / 1e3) / 1000);
	report_end(&r);

	for (long i = 0; i < N + opt.extra_logins; i++)
		conn_free_buffers(&conns[i]);
	g_free(conns);
	hist_free(&extra);
	hist_free(&login_hist);
	loop_free(&l);
	return ready == N ? 0 : 1;
}
