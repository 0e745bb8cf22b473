/*
 * Client connections on an epoll loop: nonblocking connect, banner,
 * optional MD5 Challenge, Login, then messages handed to the mode.
 * Messages may be split across reads and several may arrive in one read;
 * a message ends at an empty line (CRLF or bare LF).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "amibench.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_MESSAGE_BYTES (64u << 20) /* one message never needs more */
#define READS_PER_EVENT 1

static struct sockaddr_storage target;
static socklen_t target_len;
static struct sockaddr_storage *sources;
static int n_sources;
static atomic_uint next_source;

/* ------------------------------------------------------------ target */

void target_init(void)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	char port[16];
	g_snprintf(port, sizeof(port), "%d", opt.port);
	int rc = getaddrinfo(opt.host, port, &hints, &res);
	if (rc || !res) {
		fprintf(stderr, "amibench: cannot resolve %s: %s\n", opt.host,
			gai_strerror(rc));
		exit(2);
	}
	memcpy(&target, res->ai_addr, res->ai_addrlen);
	target_len = res->ai_addrlen;
	freeaddrinfo(res);

	if (!opt.source_ips || !*opt.source_ips)
		return;
	char **ips = g_strsplit(opt.source_ips, ",", -1);
	n_sources = (int)g_strv_length(ips);
	sources = g_new0(struct sockaddr_storage, n_sources);
	for (int i = 0; i < n_sources; i++) {
		hints.ai_flags = AI_NUMERICHOST;
		hints.ai_family = target.ss_family;
		if (getaddrinfo(g_strstrip(ips[i]), "0", &hints, &res) || !res) {
			fprintf(stderr, "amibench: bad --source-ips entry '%s'\n",
				ips[i]);
			exit(2);
		}
		memcpy(&sources[i], res->ai_addr, res->ai_addrlen);
		freeaddrinfo(res);
	}
	g_strfreev(ips);
}

/* ------------------------------------------------------------ loop */

void loop_init(Loop *l, size_t in_cap)
{
	memset(l, 0, sizeof(*l));
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		perror("amibench: epoll_create1");
		exit(2);
	}
	hist_init(&l->hist);
	hist_init(&l->login_hist);
	l->in_cap = in_cap ? in_cap : 4096;
	l->now = now_ns();
}

void loop_free(Loop *l)
{
	close(l->ep);
	hist_free(&l->hist);
	hist_free(&l->login_hist);
}

static void update_epoll(Conn *c)
{
	uint32_t want = EPOLLRDHUP;
	if (!c->deaf)
		want |= EPOLLIN;
	if (c->out_armed)
		want |= EPOLLOUT;
	struct epoll_event ev = {.events = want, .data.ptr = c};
	if (epoll_ctl(c->loop->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		note_error("epoll_ctl: %s", strerror(errno));
}

/* ------------------------------------------------------------ open/close */

bool conn_open(Loop *l, Conn *c)
{
	c->loop = l;
	c->state = ST_CLOSED;
	c->failed = false;
	c->deaf = false;
	c->out_armed = false;
	c->got_goodbye = false;
	c->in_len = c->scan = 0;
	c->out_len = c->out_off = 0;
	c->t0 = now_ns();
	c->t_ready = c->t_closed = 0;
	atomic_store(&c->gone, 0);

	int fd = socket(target.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		note_error("socket: %s", strerror(errno));
		c->failed = true;
		l->n_failed++;
		return false;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &c->rcvbuf,
			   sizeof(c->rcvbuf));
	if (n_sources) {
		unsigned i = atomic_fetch_add(&next_source, 1) %
			     (unsigned)n_sources;
		/* Port chosen at connect(): the 4-tuple, not the IP, must be unique. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			   sizeof(one));
		socklen_t sl = sources[i].ss_family == AF_INET6
				       ? sizeof(struct sockaddr_in6)
				       : sizeof(struct sockaddr_in);
		if (bind(fd, (struct sockaddr *)&sources[i], sl) < 0) {
			note_error("bind source: %s", strerror(errno));
			close(fd);
			c->failed = true;
			l->n_failed++;
			return false;
		}
	}
	if (connect(fd, (struct sockaddr *)&target, target_len) < 0 &&
	    errno != EINPROGRESS) {
		note_error("connect: %s", strerror(errno));
		close(fd);
		c->failed = true;
		l->n_failed++;
		return false;
	}
	c->fd = fd;
	c->state = ST_CONNECTING;
	/* The banner tells that the connection is up: no EPOLLOUT needed. */
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		note_error("epoll_ctl add: %s", strerror(errno));
		close(fd);
		c->fd = -1;
		c->state = ST_CLOSED;
		c->failed = true;
		l->n_failed++;
		return false;
	}
	l->n_open++;
	l->n_handshaking++;
	return true;
}

void conn_close(Conn *c)
{
	if (c->state == ST_CLOSED || c->state == ST_IDLE)
		return;
	Loop *l = c->loop;
	if (c->state < ST_READY)
		l->n_handshaking--;
	close(c->fd); /* also leaves the epoll set */
	c->fd = -1;
	c->state = ST_CLOSED;
	if (!c->t_closed)
		c->t_closed = l->now;
	l->n_open--;
}

void conn_fail(Conn *c, const char *why)
{
	if (c->state == ST_CLOSED)
		return;
	note_error("connection %d: %s", c->id, why);
	c->failed = true;
	c->loop->n_failed++;
	conn_close(c);
}

/* EOF or a socket error. */
static void conn_lost(Conn *c, const char *why)
{
	Loop *l = c->loop;
	if (c->state == ST_READY || c->state == ST_LOGOFF) {
		c->t_closed = l->now;
		if (l->on_close)
			l->on_close(c); /* may close or reopen */
		if (c->state == ST_READY || c->state == ST_LOGOFF)
			conn_close(c);
		return;
	}
	char buf[160];
	g_snprintf(buf, sizeof(buf), "%s during login (state %d)", why,
		   c->state);
	conn_fail(c, buf);
}

void conn_free_buffers(Conn *c)
{
	g_free(c->in);
	g_free(c->out);
	g_free(c->ring);
	c->in = c->out = NULL;
	c->ring = NULL;
	c->in_cap = c->out_cap = c->in_len = c->out_len = 0;
}

void conn_make_deaf(Conn *c)
{
	c->deaf = true;
	if (c->state != ST_CLOSED)
		update_epoll(c);
}

/* ------------------------------------------------------------ output */

void conn_queue(Conn *c, const char *data, size_t len)
{
	if (c->out_len + len > c->out_cap) {
		if (c->out_off) {
			memmove(c->out, c->out + c->out_off,
				c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		size_t cap = c->out_cap ? c->out_cap : 1024;
		while (cap < c->out_len + len)
			cap *= 2;
		if (cap != c->out_cap) {
			c->out = g_realloc(c->out, cap);
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
}

void conn_flush(Conn *c)
{
	while (c->out_off < c->out_len && c->state != ST_CLOSED &&
	       c->state != ST_CONNECTING) {
		ssize_t w = write(c->fd, c->out + c->out_off,
				  c->out_len - c->out_off);
		if (w > 0) {
			c->out_off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->out_armed) {
				c->out_armed = true;
				update_epoll(c);
			}
			return;
		}
		conn_lost(c, w < 0 ? strerror(errno) : "write returned 0");
		return;
	}
	if (c->out_off >= c->out_len) {
		c->out_off = c->out_len = 0;
		if (c->out_armed && c->state != ST_CLOSED) {
			c->out_armed = false;
			update_epoll(c);
		}
	}
}

/* ------------------------------------------------------------ parsing */

bool msg_starts(const char *msg, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && !g_ascii_strncasecmp(msg, prefix, n);
}

const char *msg_header(const char *msg, size_t len, const char *name,
		       size_t *vlen)
{
	size_t n = strlen(name);
	const char *p = msg, *end = msg + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if ((size_t)(le - p) > n && p[n] == ':' &&
		    !g_ascii_strncasecmp(p, name, n)) {
			const char *v = p + n + 1;
			while (v < le && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = le;
			if (ve > v && ve[-1] == '\r')
				ve--;
			if (vlen)
				*vlen = (size_t)(ve - v);
			return v;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return NULL;
}

uint64_t parse_u64(const char *p, size_t len)
{
	uint64_t v = 0;
	for (size_t i = 0; i < len && p[i] >= '0' && p[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(p[i] - '0');
	return v;
}

int fmt_u64(char *dst, uint64_t v)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (int i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	return n;
}

/* ------------------------------------------------------------ login */

static void send_login(Conn *c, const char *key)
{
	char buf[1024];
	int n;
	if (key)
		n = g_snprintf(buf, sizeof(buf),
			       "Action: Login\r\nUsername: %s\r\nAuthType: "
			       "MD5\r\nKey: %s\r\n%s%s%s\r\n",
			       opt.user, key, c->events ? "Events: " : "",
			       c->events ? c->events : "",
			       c->events ? "\r\n" : "");
	else
		n = g_snprintf(buf, sizeof(buf),
			       "Action: Login\r\nUsername: %s\r\nSecret: "
			       "%s\r\n%s%s%s\r\n",
			       opt.user, opt.secret,
			       c->events ? "Events: " : "",
			       c->events ? c->events : "",
			       c->events ? "\r\n" : "");
	conn_queue(c, buf, (size_t)MIN(n, (int)sizeof(buf) - 1));
	c->state = ST_LOGIN;
}

static void on_banner(Conn *c)
{
	if (opt.md5) {
		static const char ch[] =
			"Action: Challenge\r\nAuthType: MD5\r\n\r\n";
		conn_queue(c, ch, sizeof(ch) - 1);
		c->state = ST_CHALLENGE;
	} else {
		send_login(c, NULL);
	}
}

static void on_challenge(Conn *c, const char *msg, size_t len)
{
	if (!msg_starts(msg, len, "Response:"))
		return; /* an event: not ours */
	size_t vl = 0;
	const char *v = msg_header(msg, len, "Challenge", &vl);
	if (!msg_starts(msg, len, "Response: Success") || !v) {
		conn_fail(c, "Challenge refused");
		return;
	}
	GChecksum *md5 = g_checksum_new(G_CHECKSUM_MD5);
	g_checksum_update(md5, (const guchar *)v, (gssize)vl);
	g_checksum_update(md5, (const guchar *)opt.secret, -1);
	send_login(c, g_checksum_get_string(md5));
	g_checksum_free(md5);
}

static void on_login_reply(Conn *c, const char *msg, size_t len)
{
	if (!msg_starts(msg, len, "Response:"))
		return;
	if (!msg_starts(msg, len, "Response: Success")) {
		size_t vl = 0;
		const char *v = msg_header(msg, len, "Message", &vl);
		char buf[200];
		g_snprintf(buf, sizeof(buf), "login refused: %.*s",
			   (int)MIN(vl, 120), v ? v : "");
		conn_fail(c, buf);
		return;
	}
	Loop *l = c->loop;
	c->state = ST_READY;
	c->t_ready = l->now;
	l->n_handshaking--;
	l->n_ready++;
	hist_add(&l->login_hist, c->t_ready - c->t0);
	if (l->on_ready)
		l->on_ready(c);
}

static void dispatch(Conn *c, char *msg, size_t len)
{
	switch (c->state) {
	case ST_CHALLENGE:
		on_challenge(c, msg, len);
		break;
	case ST_LOGIN:
		on_login_reply(c, msg, len);
		break;
	case ST_READY:
	case ST_LOGOFF:
		c->loop->on_msg(c, msg, len);
		break;
	default:
		break;
	}
}

/* Run every complete message in the input buffer. */
static void parse(Conn *c)
{
	size_t start = 0, i = c->scan;
	char *in = c->in;
	size_t len = c->in_len;

	while (c->state != ST_CLOSED && !c->deaf) {
		if (c->state == ST_BANNER) {
			char *nl = memchr(in + start, '\n', len - start);
			if (!nl)
				break;
			start = i = (size_t)(nl - in) + 1;
			on_banner(c);
			continue;
		}
		/* Skip stray blank lines between messages. */
		if (i == start) {
			if (start < len && in[start] == '\n') {
				start = i = start + 1;
				continue;
			}
			if (start + 1 < len && in[start] == '\r' &&
			    in[start + 1] == '\n') {
				start = i = start + 2;
				continue;
			}
		}
		char *nl = memchr(in + i, '\n', len - i);
		if (!nl)
			break;
		size_t p = (size_t)(nl - in) + 1, end;
		if (p < len && in[p] == '\n') {
			end = p + 1;
		} else if (p + 1 < len && in[p] == '\r' && in[p + 1] == '\n') {
			end = p + 2;
		} else if (p >= len || (p + 1 == len && in[p] == '\r')) {
			i = (size_t)(nl - in); /* decide when more arrives */
			break;
		} else {
			i = p;
			continue;
		}
		dispatch(c, in + start, end - start);
		start = i = end;
	}
	if (c->state == ST_CLOSED || c->deaf) {
		c->in_len = c->scan = 0;
		return;
	}
	if (start) {
		memmove(in, in + start, len - start);
		c->in_len = len - start;
	}
	c->scan = i - start;
}

static void conn_read(Conn *c)
{
	Loop *l = c->loop;
	for (int r = 0; r < READS_PER_EVENT; r++) {
		if (c->in_cap - c->in_len < 1024) {
			size_t cap = c->in_cap ? c->in_cap * 2 : l->in_cap;
			if (cap > MAX_MESSAGE_BYTES) {
				conn_fail(c, "message larger than 64 MiB");
				return;
			}
			c->in = g_realloc(c->in, cap);
			c->in_cap = cap;
		}
		size_t room = c->in_cap - c->in_len;
		ssize_t n = read(c->fd, c->in + c->in_len, room);
		if (n > 0) {
			c->in_len += (size_t)n;
			l->now = now_ns();
			if (c->t_read && l->now - c->t_read > c->max_read_gap)
				c->max_read_gap = l->now - c->t_read;
			c->t_read = l->now;
			parse(c);
			if (c->state == ST_CLOSED || c->deaf)
				return;
			if ((size_t)n < room)
				break;
			continue;
		}
		if (n == 0) {
			conn_lost(c, "EOF");
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		conn_lost(c, strerror(errno));
		return;
	}
	conn_flush(c);
}

/* ------------------------------------------------------------ poll */

int loop_poll(Loop *l, int timeout_ms)
{
	struct epoll_event evs[256];
	int n = epoll_wait(l->ep, evs, 256, timeout_ms);
	l->now = now_ns();
	int64_t woke = l->now;
	if (n < 0) {
		if (errno != EINTR)
			note_error("epoll_wait: %s", strerror(errno));
		return 0;
	}
	for (int i = 0; i < n; i++) {
		Conn *c = evs[i].data.ptr;
		uint32_t e = evs[i].events;
		if (c->state == ST_CLOSED || c->state == ST_IDLE)
			continue;
		if (c->state == ST_CONNECTING) {
			if (e & (EPOLLERR | EPOLLHUP)) {
				int err = 0;
				socklen_t sl = sizeof(err);
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
				conn_fail(c, err ? strerror(err)
						 : "connection closed before the banner");
				continue;
			}
			c->state = ST_BANNER;
		}
		if (c->deaf) {
			if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
				conn_lost(c, "hang-up");
			continue;
		}
		if (e & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
			conn_read(c);
		if (c->state != ST_CLOSED && (e & EPOLLOUT))
			conn_flush(c);
	}
	int64_t busy = now_ns() - woke;
	if (busy > l->max_busy)
		l->max_busy = busy;
	return n;
}

long connect_all(Loop *l, Conn *conns, long n, int64_t deadline)
{
	long next = 0;
	int conc = opt.concurrency > 0 ? opt.concurrency : 256;
	while (now_ns() < deadline) {
		while (next < n && l->n_handshaking < conc)
			conn_open(l, &conns[next++]);
		if (next == n && l->n_handshaking == 0)
			break;
		loop_poll(l, 20);
	}
	long ready = 0;
	for (long i = 0; i < n; i++) {
		if (conns[i].state == ST_READY)
			ready++;
		else if (conns[i].state != ST_CLOSED && conns[i].state != ST_IDLE)
			conn_fail(&conns[i], "login timed out");
		else if (conns[i].state == ST_IDLE)
			note_error("connection %ld: not opened before the "
				   "deadline",
				   i);
	}
	return ready;
}
