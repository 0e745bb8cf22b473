/*
 * amibench floor: a minimal AMI responder, the reference every figure is
 * printed beside.  One thread, raw epoll, nonblocking sockets.  It sends
 * the banner and answers Login (plain or MD5), Challenge, Ping, Events,
 * UserEvent and Logoff with the shapes real Asterisk uses (ActionID
 * echoed).  A UserEvent is formatted once into a refcounted buffer that
 * every subscribed session's output queue references; each session's
 * queue is written with one writev() per loop pass (replies of one pass
 * share a buffer).  A session whose queue exceeds --queue-limit bytes is
 * dropped.  Runs for --duration s at most, or until SIGINT/SIGTERM.
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif
#define MAX_LINES 128
#define MAX_MSG (128 * 1024)
#define READ_CHUNK 16384

typedef struct {
	int refs; /* < 0: static, never freed */
	uint32_t len, cap;
	char data[];
} Blob;

typedef struct {
	int fd;
	bool authed, subscribed, closing, dirty, out_armed, dead;
	int sub_idx;
	char challenge[12];
	char *in;
	size_t in_len, in_cap;
	Blob **q;
	uint32_t qhead, qcount, qcap, qoff;
	size_t qbytes;
	Blob *tail; /* reply buffer still open for appending */
} FConn;

typedef struct {
	const char *p;
	size_t n;
} Str;

static int ep, lfd;
static GPtrArray *subs, *dirty, *dead;
static char tsbuf[40];
static size_t tslen;
static unsigned chal_counter;
static volatile sig_atomic_t stop_flag;
static long n_conns, n_dropped;

static struct {
	int refs;
	uint32_t len, cap;
	char data[64];
} banner = {-1, 0, 0, "Asterisk Call Manager/1.1\r\n"};

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* ------------------------------------------------------------ output */

static void blob_unref(Blob *b)
{
	if (b->refs > 0 && --b->refs == 0)
		g_free(b);
}

static void mark_dirty(FConn *c)
{
	if (!c->dirty) {
		c->dirty = true;
		g_ptr_array_add(dirty, c);
	}
}

static void kill_conn(FConn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	g_ptr_array_add(dead, c);
}

static void push(FConn *c, Blob *b)
{
	if (c->dead)
		return;
	if (c->qcount == c->qcap) {
		uint32_t cap = c->qcap ? c->qcap * 2 : 8;
		Blob **n = g_new(Blob *, cap);
		for (uint32_t i = 0; i < c->qcount; i++)
			n[i] = c->q[(c->qhead + i) % c->qcap];
		g_free(c->q);
		c->q = n;
		c->qhead = 0;
		c->qcap = cap;
	}
	if (b->refs > 0)
		b->refs++;
	c->q[(c->qhead + c->qcount) % c->qcap] = b;
	c->qcount++;
	c->qbytes += b->len;
	c->tail = NULL;
	if (c->qbytes > (size_t)opt.queue_limit) {
		n_dropped++;
		kill_conn(c);
		return;
	}
	if (!c->out_armed) /* else the socket is full: wait for EPOLLOUT */
		mark_dirty(c);
}

/* Append a reply; consecutive replies share one buffer. */
static void reply(FConn *c, const char *s, size_t n)
{
	if (c->dead)
		return;
	Blob *t = c->tail;
	if (t && t->cap - t->len >= n) {
		memcpy(t->data + t->len, s, n);
		t->len += (uint32_t)n;
		c->qbytes += n;
		return;
	}
	uint32_t cap = (uint32_t)MAX(n, 1024);
	Blob *b = g_malloc(sizeof(Blob) + cap);
	b->refs = 1;
	b->cap = cap;
	b->len = (uint32_t)n;
	memcpy(b->data, s, n);
	push(c, b);
	blob_unref(b); /* the queue holds the only reference */
	c->tail = c->dead ? NULL : b;
}

static void set_epoll(FConn *c, bool want_out)
{
	if (want_out == c->out_armed)
		return;
	c->out_armed = want_out;
	struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0),
				 .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void flush(FConn *c)
{
	while (c->qcount && !c->dead) {
		struct iovec iov[IOV_MAX];
		int n = 0;
		size_t want = 0;
		for (uint32_t i = 0; i < c->qcount && n < IOV_MAX; i++, n++) {
			Blob *b = c->q[(c->qhead + i) % c->qcap];
			size_t off = i == 0 ? c->qoff : 0;
			iov[n].iov_base = b->data + off;
			iov[n].iov_len = b->len - off;
			want += b->len - off;
		}
		ssize_t w = writev(c->fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			kill_conn(c);
			return;
		}
		c->qbytes -= (size_t)w;
		size_t left = (size_t)w;
		while (left && c->qcount) {
			Blob *b = c->q[c->qhead];
			size_t rest = b->len - c->qoff;
			if (left < rest) {
				c->qoff += (uint32_t)left;
				break;
			}
			left -= rest;
			if (b == c->tail)
				c->tail = NULL;
			blob_unref(b);
			c->qoff = 0;
			c->qhead = (c->qhead + 1) % c->qcap;
			c->qcount--;
		}
		if ((size_t)w < want)
			break;
	}
	if (c->dead)
		return;
	if (!c->qcount) {
		g_free(c->q);
		c->q = NULL;
		c->qcap = c->qhead = c->qoff = 0;
		c->qbytes = 0;
		c->tail = NULL;
		if (c->closing) {
			kill_conn(c);
			return;
		}
	}
	set_epoll(c, c->qcount > 0);
}

/* ------------------------------------------------------------ actions */

static bool str_ieq(Str s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && !g_ascii_strncasecmp(s.p, lit, n);
}

/* Value of header @name (first occurrence), .p NULL if absent. */
static Str header(const Str *lines, int nl, const char *name)
{
	size_t n = strlen(name);
	for (int i = 0; i < nl; i++) {
		if (lines[i].n > n && lines[i].p[n] == ':' &&
		    !g_ascii_strncasecmp(lines[i].p, name, n)) {
			Str v = {lines[i].p + n + 1, lines[i].n - n - 1};
			while (v.n && (unsigned char)*v.p <= ' ') {
				v.p++;
				v.n--;
			}
			return v;
		}
	}
	return (Str){NULL, 0};
}

static bool events_wanted(Str v)
{
	if (!v.p || !v.n)
		return true;
	static const char *no[] = {"off", "no", "false", "n", "f", "0"};
	static const char *yes[] = {"on", "yes", "true", "y", "t", "1", "all"};
	for (size_t i = 0; i < G_N_ELEMENTS(no); i++)
		if (str_ieq(v, no[i]))
			return false;
	for (size_t i = 0; i < G_N_ELEMENTS(yes); i++)
		if (str_ieq(v, yes[i]))
			return true;
	bool digits = true;
	for (size_t i = 0; i < v.n; i++)
		digits = digits && v.p[i] >= '0' && v.p[i] <= '9';
	if (digits) {
		char num[24];
		g_strlcpy(num, v.p, MIN(v.n + 1, sizeof(num)));
		return (strtol(num, NULL, 10) & 64) != 0;
	}
	return g_strstr_len(v.p, (gssize)v.n, "user") != NULL ||
	       g_strstr_len(v.p, (gssize)v.n, "all") != NULL;
}

static void set_subscribed(FConn *c, bool on)
{
	if (on && !c->subscribed) {
		c->sub_idx = (int)subs->len;
		g_ptr_array_add(subs, c);
	} else if (!on && c->subscribed) {
		guint i = (guint)c->sub_idx;
		g_ptr_array_remove_index_fast(subs, i);
		if (i < subs->len)
			((FConn *)subs->pdata[i])->sub_idx = (int)i;
	}
	c->subscribed = on;
}

/* Reply builder on the stack. */
typedef struct {
	char b[1536];
	size_t n;
} Out;

static void out_s(Out *o, const char *s, size_t n)
{
	n = MIN(n, sizeof(o->b) - o->n);
	memcpy(o->b + o->n, s, n);
	o->n += n;
}
#define OUT_LIT(o, lit) out_s(o, lit, sizeof(lit) - 1)

static void out_head(Out *o, const char *resp, Str id)
{
	o->n = 0;
	out_s(o, resp, strlen(resp));
	if (id.p && id.n) {
		OUT_LIT(o, "ActionID: ");
		out_s(o, id.p, id.n);
		OUT_LIT(o, "\r\n");
	}
}

static void simple(FConn *c, const char *resp, Str id, const char *msg)
{
	Out o;
	out_head(&o, resp, id);
	OUT_LIT(&o, "Message: ");
	out_s(&o, msg, strlen(msg));
	OUT_LIT(&o, "\r\n\r\n");
	reply(c, o.b, o.n);
}

static void do_userevent(FConn *c, const Str *lines, int nl, Str id)
{
	simple(c, "Response: Success\r\n", id, "Event Sent");
	Str name = header(lines, nl, "UserEvent");
	size_t len = 64 + name.n;
	for (int i = 0; i < nl; i++)
		len += lines[i].n + 2;
	Blob *b = g_malloc(sizeof(Blob) + len);
	b->refs = 1;
	b->cap = (uint32_t)len;
	char *p = b->data;
#define PUT(s, n) (memcpy(p, s, n), p += (n))
	PUT("Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: ", 51);
	PUT(name.p ? name.p : "", name.n);
	PUT("\r\n", 2);
	for (int i = 0; i < nl; i++) {
		const Str *l = &lines[i];
		if ((l->n >= 10 && !g_ascii_strncasecmp(l->p, "UserEvent:", 10)) ||
		    (l->n >= 7 && !g_ascii_strncasecmp(l->p, "Action:", 7)))
			continue;
		PUT(l->p, l->n);
		PUT("\r\n", 2);
	}
	PUT("\r\n", 2);
#undef PUT
	b->len = (uint32_t)(p - b->data);
	for (guint i = 0; i < subs->len; i++)
		push(subs->pdata[i], b);
	blob_unref(b);
}

static void handle(FConn *c, const Str *lines, int nl)
{
	Str action = {NULL, 0};
	for (int i = 0; i < nl; i++) {
		if (lines[i].n > 6 && lines[i].p[6] == ':' &&
		    !g_ascii_strncasecmp(lines[i].p, "Action", 6)) {
			Str v = {lines[i].p + 7, lines[i].n - 7};
			while (v.n && (unsigned char)*v.p <= ' ') {
				v.p++;
				v.n--;
			}
			if (v.n) {
				action = v;
				break;
			}
		}
	}
	Str id = header(lines, nl, "ActionID");
	Out o;
	if (!action.p) {
		simple(c, "Response: Error\r\n", id, "Missing action in request");
		return;
	}
	bool login = str_ieq(action, "Login"),
	     challenge = str_ieq(action, "Challenge"),
	     logoff = str_ieq(action, "Logoff");
	if (!c->authed && !login && !challenge && !logoff) {
		simple(c, "Response: Error\r\n", id, "Permission denied");
		return;
	}
	if (str_ieq(action, "Ping")) {
		out_head(&o, "Response: Success\r\n", id);
		OUT_LIT(&o, "Ping: Pong\r\nTimestamp: ");
		out_s(&o, tsbuf, tslen);
		OUT_LIT(&o, "\r\n\r\n");
		reply(c, o.b, o.n);
	} else if (str_ieq(action, "UserEvent")) {
		do_userevent(c, lines, nl, id);
	} else if (login) {
		if (c->authed) {
			simple(c, "Response: Success\r\n", id, "Already authenticated");
			return;
		}
		Str user = header(lines, nl, "Username");
		Str auth = header(lines, nl, "AuthType");
		bool ok = user.p && str_ieq(user, opt.user);
		if (ok && auth.p && str_ieq(auth, "md5")) {
			Str key = header(lines, nl, "Key");
			ok = c->challenge[0] && key.p;
			if (ok) {
				GChecksum *md5 = g_checksum_new(G_CHECKSUM_MD5);
				g_checksum_update(md5, (const guchar *)c->challenge, -1);
				g_checksum_update(md5, (const guchar *)opt.secret, -1);
				const char *hex = g_checksum_get_string(md5);
				ok = key.n == strlen(hex) && !memcmp(key.p, hex, key.n);
				g_checksum_free(md5);
			}
		} else if (ok) {
			Str sec = header(lines, nl, "Secret");
			ok = sec.p && sec.n == strlen(opt.secret) &&
			     !memcmp(sec.p, opt.secret, sec.n);
		}
		if (!ok) {
			simple(c, "Response: Error\r\n", id, "Authentication failed");
			c->closing = true;
			return;
		}
		c->authed = true;
		set_subscribed(c, events_wanted(header(lines, nl, "Events")));
		simple(c, "Response: Success\r\n", id, "Authentication accepted");
	} else if (challenge) {
		Str auth = header(lines, nl, "AuthType");
		if (!auth.p || !str_ieq(auth, "md5")) {
			simple(c, "Response: Error\r\n", id, "Must specify AuthType");
			return;
		}
		if (!c->challenge[0])
			g_snprintf(c->challenge, sizeof(c->challenge), "%09u",
				   (++chal_counter * 2654435761u) % 1000000000u);
		out_head(&o, "Response: Success\r\n", id);
		OUT_LIT(&o, "Challenge: ");
		out_s(&o, c->challenge, strlen(c->challenge));
		OUT_LIT(&o, "\r\n\r\n");
		reply(c, o.b, o.n);
	} else if (logoff) {
		simple(c, "Response: Goodbye\r\n", id, "Thanks for all the fish.");
		c->closing = true;
	} else if (str_ieq(action, "Events")) {
		Str m = header(lines, nl, "EventMask");
		if (!m.p || !m.n) {
			simple(c, "Response: Error\r\n", id, "Invalid event mask");
			return;
		}
		bool on = events_wanted(m);
		set_subscribed(c, on);
		out_head(&o, "Response: Success\r\n", id);
		if (on)
			OUT_LIT(&o, "Events: On\r\n\r\n");
		else
			OUT_LIT(&o, "Events: Off\r\n\r\n");
		reply(c, o.b, o.n);
	} else {
		out_head(&o, "Response: Error\r\n", id);
		OUT_LIT(&o, "Message: Invalid/unknown command: ");
		out_s(&o, action.p, MIN(action.n, 200));
		OUT_LIT(&o, ". Use Action: ListCommands to show available commands.\r\n\r\n");
		reply(c, o.b, o.n);
	}
}

/* ------------------------------------------------------------ input */

static void parse_input(FConn *c)
{
	Str lines[MAX_LINES];
	int nl = 0;
	size_t start = 0, pos = 0;
	while (!c->closing && !c->dead) {
		char *eol = memchr(c->in + pos, '\n', c->in_len - pos);
		if (!eol)
			break;
		size_t e = (size_t)(eol - c->in);
		size_t le = e;
		if (le > pos && c->in[le - 1] == '\r')
			le--;
		if (le == pos) { /* empty line: end of message */
			handle(c, lines, nl);
			nl = 0;
			start = pos = e + 1;
			continue;
		}
		if (nl < MAX_LINES)
			lines[nl++] = (Str){c->in + pos, le - pos};
		pos = e + 1;
	}
	if (c->closing || c->dead) {
		c->in_len = 0;
	} else if (start) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
	}
	if (!c->in_len) {
		g_free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	} else if (c->in_len >= MAX_MSG) {
		kill_conn(c); /* no message is that long */
	}
}

static void on_readable(FConn *c)
{
	if (c->in_cap - c->in_len < READ_CHUNK / 2) {
		c->in_cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK;
		c->in = g_realloc(c->in, c->in_cap);
	}
	ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		kill_conn(c);
		return;
	}
	if (n < 0)
		return;
	c->in_len += (size_t)n;
	if (c->closing)
		c->in_len = 0; /* input after Logoff is ignored */
	else
		parse_input(c);
}

static void accept_some(void)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		FConn *c = g_new0(FConn, 1);
		c->fd = fd;
		c->sub_idx = -1;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		n_conns++;
		push(c, (Blob *)&banner);
	}
}

static void free_conn(FConn *c)
{
	if (c->subscribed)
		set_subscribed(c, false);
	for (uint32_t i = 0; i < c->qcount; i++)
		blob_unref(c->q[(c->qhead + i) % c->qcap]);
	g_free(c->q);
	g_free(c->in);
	close(c->fd);
	n_conns--;
	g_free(c);
}

int mode_floor(void)
{
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	banner.len = (uint32_t)strlen(banner.data);
	banner.cap = banner.len;

	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE},
			*res = NULL;
	char port[16];
	g_snprintf(port, sizeof(port), "%d", opt.port);
	if (getaddrinfo(opt.host, port, &hints, &res) || !res) {
		fprintf(stderr, "amibench floor: cannot resolve %s\n", opt.host);
		return 2;
	}
	lfd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		     0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(lfd, 4096) < 0) {
		fprintf(stderr, "amibench floor: cannot listen on %s:%d: %s\n",
			opt.host, opt.port, strerror(errno));
		return 2;
	}
	freeaddrinfo(res);
	struct sockaddr_storage sa;
	socklen_t sl = sizeof(sa);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	int bound = ntohs(sa.ss_family == AF_INET6
				  ? ((struct sockaddr_in6 *)&sa)->sin6_port
				  : ((struct sockaddr_in *)&sa)->sin_port);
	if (opt.port_file) {
		char *tmp = g_strdup_printf("%s.tmp", opt.port_file);
		char *txt = g_strdup_printf("%d\n", bound);
		if (!g_file_set_contents(tmp, txt, -1, NULL) ||
		    rename(tmp, opt.port_file) < 0)
			fprintf(stderr, "amibench floor: cannot write %s\n",
				opt.port_file);
		g_free(tmp);
		g_free(txt);
	}
	printf("amibench floor: listening on %s:%d (pid %d), at most %.0f s\n",
	       opt.host, bound, (int)getpid(), opt.duration);
	fflush(stdout);

	ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
	subs = g_ptr_array_new();
	dirty = g_ptr_array_new();
	dead = g_ptr_array_new();

	int64_t end = now_ns() + (int64_t)(opt.duration * 1e9);
	struct epoll_event evs[512];
	while (!stop_flag && now_ns() < end) {
		int n = epoll_wait(ep, evs, 512, 200);
		if (n <= 0)
			continue;
		struct timespec rt;
		clock_gettime(CLOCK_REALTIME, &rt);
		tslen = (size_t)g_snprintf(tsbuf, sizeof(tsbuf), "%ld.%06ld",
					   (long)rt.tv_sec, rt.tv_nsec / 1000);
		for (int i = 0; i < n; i++) {
			FConn *c = evs[i].data.ptr;
			if (!c) {
				accept_some();
				continue;
			}
			if (c->dead)
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				on_readable(c);
			if (!c->dead && (evs[i].events & EPOLLOUT))
				mark_dirty(c);
		}
		for (guint i = 0; i < dirty->len; i++) {
			FConn *c = dirty->pdata[i];
			c->dirty = false;
			if (!c->dead)
				flush(c);
		}
		g_ptr_array_set_size(dirty, 0);
		for (guint i = 0; i < dead->len; i++)
			free_conn(dead->pdata[i]);
		g_ptr_array_set_size(dead, 0);
	}
	printf("amibench floor: stopping (%ld sessions open, %ld dropped for a full queue)\n",
	       n_conns, n_dropped);
	close(lfd);
	close(ep);
	return 0;
}
