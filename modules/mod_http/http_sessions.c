/*
 * mod_http: HTTP sessions.  One virtual AMI session (amid/session.h) per
 * mansession_id cookie, or per digest user and client address.  Requests
 * of one HTTP session run one after the other; the reply to an HTTP
 * request is the session's output for its AMI request: the first response
 * block, and for a list (EventList: start) everything up to the block that
 * carries EventList: Complete; for WaitEvent everything up to
 * Event: WaitEventComplete.  Events that arrive outside a WaitEvent wait in
 * a bounded per-session queue for the next WaitEvent, as in Asterisk.
 *
 * Locking: one module lock guards the table and every session; the sink
 * callbacks (core I/O workers) and the handlers (server thread) take it.
 * Finished replies are handed to the server thread with
 * g_main_context_invoke (SoupServerMessage is not thread safe).
 */
#include "http.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

struct HttpSession {
	gint refcount;
	char *key; /* table key: cookie id, or "digest:user@addr" */
	gboolean digest;
	AmiVirtualSession *vs;
	gboolean closed; /* closed() received */
	gboolean in_table;
	gboolean authed; /* a Login succeeded, or digest */
	gint64 last_used; /* monotonic µs */
	GString *inbuf; /* sink bytes not yet a whole block */
	GQueue events; /* GBytes* for the next WaitEvent */
	gsize event_bytes;
	GQueue pending; /* HttpRequest* not started */
	HttpRequest *current; /* submitted, collecting output */
	guint skip_wait; /* WaitEventComplete blocks of superseded waits */
};

struct HttpRequest {
	HttpSession *hs; /* reference */
	SoupServerMessage *msg; /* reference; NULL once answered */
	HttpFormat fmt;
	GPtrArray *params;
	char *text; /* the AMI request */
	char *set_cookie; /* Set-Cookie value, or NULL (digest) */
	char *form_action; /* /manager form target */
	gboolean submitted, waitevent, login, got_response, list;
	GString *out;
	gint64 deadline; /* monotonic µs: answer with what we have */
	guint status; /* 200 unless set */
};

static GMutex lock;
static GCond closed_cond;
static GHashTable *table; /* key → HttpSession* (one reference) */
static GMainContext *server_ctx;
static guint live_vs; /* virtual sessions whose closed() is still due */
static gboolean shutting_down;
static int httptimeout_s = 60;
static int max_sessions = 1000;
static int max_events = 1000;
static gsize max_event_bytes = 1024 * 1024;
static guint64 dropped_total;

static HttpSession *hs_ref(HttpSession *hs)
{
	g_atomic_int_inc(&hs->refcount);
	return hs;
}

static void hs_unref(HttpSession *hs)
{
	if (!hs || !g_atomic_int_dec_and_test(&hs->refcount))
		return;
	g_free(hs->key);
	if (hs->vs)
		ami_virtual_session_unref(hs->vs);
	g_string_free(hs->inbuf, TRUE);
	g_queue_clear_full(&hs->events, (GDestroyNotify)g_bytes_unref);
	g_free(hs);
}

static void req_free(HttpRequest *r)
{
	if (r->msg)
		g_object_unref(r->msg);
	if (r->hs)
		hs_unref(r->hs);
	g_ptr_array_unref(r->params);
	g_free(r->text);
	g_free(r->set_cookie);
	g_free(r->form_action);
	g_string_free(r->out, TRUE);
	g_free(r);
}

/* ------------------------------------------------------- answering */

/* Server thread: send the reply of a finished request. */
static gboolean complete_cb(gpointer data)
{
	HttpRequest *r = data;
	SoupServerMessage *msg = r->msg;
	static const char *const types[] = {
		[HTTP_RAWMAN] = "text/plain",
		[HTTP_MANAGER] = "text/html",
		[HTTP_MXML] = "text/xml",
	};
	SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
	if (r->status != SOUP_STATUS_OK) {
		soup_server_message_set_status(msg, r->status, NULL);
		soup_server_message_set_response(msg, "text/plain",
						 SOUP_MEMORY_COPY, "", 0);
	} else {
		GString *body = http_render(r->fmt, r->out->str, r->out->len,
					    r->params, r->form_action);
		soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
		soup_message_headers_replace(h, "Cache-Control",
					     "no-cache, no-store");
		gsize len = body->len;
		soup_server_message_set_response(msg, types[r->fmt],
						 SOUP_MEMORY_TAKE,
						 g_string_free(body, FALSE),
						 len);
		if (r->set_cookie)
			soup_message_headers_append(h, "Set-Cookie",
						    r->set_cookie);
		soup_message_headers_append(h, "Pragma", "SuppressEvents");
	}
	soup_server_message_unpause(msg);
	req_free(r);
	return G_SOURCE_REMOVE;
}

static void answer(HttpRequest *r)
{
	if (!server_ctx) {
		/* The server is gone (a session outlived the shutdown). */
		req_free(r);
		return;
	}
	GSource *src = g_idle_source_new();
	g_source_set_priority(src, G_PRIORITY_DEFAULT);
	g_source_set_callback(src, complete_cb, r, NULL);
	g_source_attach(src, server_ctx);
	g_source_unref(src);
}

static void start_next(HttpSession *hs);

/* Under lock: @r (the current request of its session) is complete. */
static void finish_current(HttpSession *hs)
{
	HttpRequest *r = hs->current;
	if (!r)
		return;
	hs->current = NULL;
	hs->last_used = g_get_monotonic_time();
	if (r->login && r->got_response &&
	    g_str_has_prefix(r->out->str, "Response: Success"))
		hs->authed = TRUE;
	answer(r);
	start_next(hs);
}

static void queue_event(HttpSession *hs, const char *block, gsize len)
{
	g_queue_push_tail(&hs->events, g_bytes_new(block, len));
	hs->event_bytes += len;
	while (hs->events.length > (guint)max_events ||
	       hs->event_bytes > max_event_bytes) {
		GBytes *old = g_queue_pop_head(&hs->events);
		hs->event_bytes -= g_bytes_get_size(old);
		g_bytes_unref(old);
		dropped_total++;
	}
}

static gboolean block_is(const char *block, const char *prefix)
{
	return !g_ascii_strncasecmp(block, prefix, strlen(prefix));
}

/* Does the block hold the line "<name>: <value>" (case-insensitive)? */
static gboolean block_has(const char *block, gsize len, const char *line)
{
	gsize n = strlen(line);
	for (const char *p = block; p + n <= block + len;) {
		if (!g_ascii_strncasecmp(p, line, n) &&
		    (p[n] == '\r' || p[n] == '\n'))
			return TRUE;
		const char *nl = memchr(p, '\n', (gsize)(block + len - p));
		if (!nl)
			break;
		p = nl + 1;
	}
	return FALSE;
}

/* Under lock: one output block (with its blank line) of @hs. */
static void on_block(HttpSession *hs, const char *block, gsize len)
{
	gboolean event = block_is(block, "Event:");
	gboolean response = block_is(block, "Response:");
	if (hs->skip_wait) {
		if (block_is(block, "Event: WaitEventComplete"))
			hs->skip_wait--;
		else if (event)
			queue_event(hs, block, len);
		return;
	}
	HttpRequest *r = hs->current;
	if (!r || !r->submitted) {
		if (event)
			queue_event(hs, block, len);
		return; /* a reply nobody waits for any more */
	}
	if (!r->got_response) {
		if (event) {
			queue_event(hs, block, len);
			return;
		}
		r->got_response = TRUE;
		g_string_append_len(r->out, block, (gssize)len);
		if (r->waitevent)
			return;
		if (response && block_has(block, len, "EventList: start")) {
			r->list = TRUE;
			return;
		}
		finish_current(hs);
		return;
	}
	g_string_append_len(r->out, block, (gssize)len);
	if (r->waitevent) {
		if (block_is(block, "Event: WaitEventComplete"))
			finish_current(hs);
		return;
	}
	if (r->list && block_has(block, len, "EventList: Complete"))
		finish_current(hs);
}

/* Worker thread: output of a virtual session. */
static void sink_output(AmiVirtualSession *vs, GBytes *data, void *user_data)
{
	HttpSession *hs = user_data;
	gsize len;
	const char *p = g_bytes_get_data(data, &len);
	g_mutex_lock(&lock);
	g_string_append_len(hs->inbuf, p, (gssize)len);
	gsize start = 0;
	for (;;) {
		const char *b = hs->inbuf->str + start;
		const char *end = strstr(b, "\r\n\r\n");
		if (!end)
			break;
		gsize blen = (gsize)(end - b) + 4;
		on_block(hs, b, blen);
		start += blen;
	}
	g_string_erase(hs->inbuf, 0, (gssize)start);
	g_mutex_unlock(&lock);
}

/* Worker thread: the virtual session ended. */
static void sink_closed(AmiVirtualSession *vs, void *user_data)
{
	HttpSession *hs = user_data;
	g_mutex_lock(&lock);
	hs->closed = TRUE;
	if (hs->in_table && table) {
		g_hash_table_remove(table, hs->key); /* drops the table's ref */
		hs->in_table = FALSE;
	}
	/* Partial output (a failed login's reply comes whole) goes too. */
	if (hs->current)
		finish_current(hs);
	HttpRequest *r;
	while ((r = g_queue_pop_head(&hs->pending))) {
		r->status = SOUP_STATUS_SERVICE_UNAVAILABLE;
		answer(r);
	}
	live_vs--;
	g_cond_broadcast(&closed_cond);
	g_mutex_unlock(&lock);
	hs_unref(hs); /* the sink's reference */
}

static const AmiSessionSink sink = {sink_output, sink_closed};

/* Under lock: submit the next request of @hs, or answer it at once. */
static void start_next(HttpSession *hs)
{
	while (!hs->current) {
		HttpRequest *r = g_queue_pop_head(&hs->pending);
		if (!r)
			return;
		hs->current = r;
		if (r->waitevent && hs->authed && hs->events.length) {
			/* Events already waiting: the reply WaitEvent would give. */
			const char *id = http_param(r->params, "actionid");
			g_autofree char *idl = id && *id ? g_strdup_printf(
						       "ActionID: %s\r\n", id)
							 : g_strdup("");
			g_string_append_printf(r->out,
					       "Response: Success\r\n%s"
					       "Message: Waiting for Event "
					       "completed.\r\n\r\n",
					       idl);
			GBytes *b;
			while ((b = g_queue_pop_head(&hs->events))) {
				gsize n;
				const char *d = g_bytes_get_data(b, &n);
				g_string_append_len(r->out, d, (gssize)n);
				g_bytes_unref(b);
			}
			hs->event_bytes = 0;
			g_string_append_printf(r->out,
					       "Event: WaitEventComplete\r\n%s\r\n",
					       idl);
			r->got_response = TRUE;
			finish_current(hs);
			return;
		}
		if (!r->submitted) {
			r->submitted = TRUE;
			if (ami_virtual_session_submit(hs->vs, r->text) != 0)
				finish_current(hs);
		}
	}
}

/* ------------------------------------------------------- the table */

void http_sessions_init(GMainContext *ctx)
{
	g_mutex_lock(&lock);
	server_ctx = ctx;
	shutting_down = FALSE;
	table = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
				      (GDestroyNotify)hs_unref);
	g_mutex_unlock(&lock);
}

void http_sessions_configure(int timeout, int maxs, int maxev, gsize maxbytes)
{
	g_mutex_lock(&lock);
	httptimeout_s = timeout;
	max_sessions = maxs;
	max_events = maxev;
	max_event_bytes = maxbytes;
	g_mutex_unlock(&lock);
}

void http_sessions_shutdown(void)
{
	g_mutex_lock(&lock);
	shutting_down = TRUE;
	if (table) {
		GHashTableIter it;
		gpointer v;
		g_hash_table_iter_init(&it, table);
		while (g_hash_table_iter_next(&it, NULL, &v))
			ami_virtual_session_close(((HttpSession *)v)->vs);
	}
	gint64 until = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
	while (live_vs)
		if (!g_cond_wait_until(&closed_cond, &lock, until))
			break;
	if (live_vs)
		g_warning("%u HTTP sessions did not close in time", live_vs);
	GHashTable *t = table;
	if (t) {
		GHashTableIter it;
		gpointer v;
		g_hash_table_iter_init(&it, t);
		while (g_hash_table_iter_next(&it, NULL, &v))
			((HttpSession *)v)->in_table = FALSE;
	}
	table = NULL;
	/* Replies queued so far still go out (the server thread runs until
	 * the caller stops it); anything later is dropped in answer(). */
	server_ctx = NULL;
	g_mutex_unlock(&lock);
	if (t)
		g_hash_table_destroy(t);
}

static void new_session_id(char out[33])
{
	guint8 raw[16];
	gsize got = 0;
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0 && errno != EINTR)
			g_error("getrandom: %s", g_strerror(errno));
		if (n > 0)
			got += (gsize)n;
	}
	for (gsize i = 0; i < sizeof(raw); i++)
		g_snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* Under lock: a new session in the table, or NULL (limit, stopping). */
static HttpSession *session_new(const char *key, const char *peer,
				gboolean digest)
{
	if (shutting_down || !table ||
	    g_hash_table_size(table) >= (guint)max_sessions)
		return NULL;
	HttpSession *hs = g_new0(HttpSession, 1);
	hs->refcount = 2; /* table + sink */
	hs->key = g_strdup(key);
	hs->digest = digest;
	hs->inbuf = g_string_new(NULL);
	hs->last_used = g_get_monotonic_time();
	g_queue_init(&hs->events);
	g_queue_init(&hs->pending);
	hs->vs = ami_virtual_session_open(peer, &sink, hs);
	if (!hs->vs) {
		hs->refcount = 1;
		hs_unref(hs);
		return NULL;
	}
	live_vs++;
	hs->in_table = TRUE;
	g_hash_table_insert(table, hs->key, hs);
	return hs;
}

/* Under lock: the session is gone from the table; close it. */
static void session_drop(HttpSession *hs)
{
	AmiVirtualSession *vs = ami_virtual_session_ref(hs->vs);
	if (hs->in_table) {
		hs->in_table = FALSE;
		g_hash_table_remove(table, hs->key);
	}
	ami_virtual_session_close(vs);
	ami_virtual_session_unref(vs);
}

static gboolean is_hex_id(const char *s)
{
	gsize n = 0;
	for (; s[n]; n++)
		if (!g_ascii_isxdigit(s[n]))
			return FALSE;
	return n >= 8 && n <= 32;
}

gboolean http_sessions_run(SoupServerMessage *msg, HttpFormat fmt,
			   const char *cookie_id, const char *digest_user,
			   const char *peer, GPtrArray *params)
{
	HttpRequest *r = g_new0(HttpRequest, 1);
	r->fmt = fmt;
	r->params = g_ptr_array_ref(params);
	r->out = g_string_new(NULL);
	r->status = SOUP_STATUS_OK;
	const char *path = g_uri_get_path(soup_server_message_get_uri(msg));
	const char *slash = strrchr(path, '/');
	r->form_action = g_strdup(slash ? slash + 1 : path);
	const char *action = http_param(params, "action");
	r->waitevent = action && !g_ascii_strcasecmp(action, "waitevent");
	r->login = action && !g_ascii_strcasecmp(action, "login");

	g_mutex_lock(&lock);
	int cap = MAX(httptimeout_s - 10, 1);
	GString *text = g_string_new(NULL);
	for (guint i = 0; i < params->len; i++) {
		HttpParam *p = params->pdata[i];
		if (r->waitevent && !g_ascii_strcasecmp(p->name, "timeout"))
			continue;
		/* The /manager form sends its empty fields too. */
		if (fmt == HTTP_MANAGER && !*p->value)
			continue;
		g_string_append_printf(text, "%s: %s\r\n", p->name, p->value);
	}
	int wait_s = 0;
	if (r->waitevent) {
		const char *t = http_param(params, "timeout");
		wait_s = t ? atoi(t) : 0;
		if (wait_s <= 0 || wait_s > cap)
			wait_s = cap;
		g_string_append_printf(text, "Timeout: %d\r\n", wait_s);
	}
	r->text = g_string_free(text, FALSE);
	r->deadline = g_get_monotonic_time() +
		      (gint64)(r->waitevent ? wait_s + 5
					    : MAX(httptimeout_s, 30)) *
			      G_USEC_PER_SEC;

	HttpSession *hs = NULL;
	if (digest_user) {
		char addr[64];
		g_strlcpy(addr, peer, sizeof(addr));
		char *colon = strrchr(addr, ':');
		if (colon)
			*colon = '\0';
		g_autofree char *key =
			g_strdup_printf("digest:%s@%s", digest_user, addr);
		hs = table ? g_hash_table_lookup(table, key) : NULL;
		if (!hs) {
			hs = session_new(key, peer, TRUE);
			if (hs) {
				int rc = ami_virtual_session_login(
					hs->vs, digest_user, AMI_EVENT_FLAG_ALL);
				if (rc != 0) {
					session_drop(hs);
					g_mutex_unlock(&lock);
					soup_server_message_set_status(
						msg,
						rc == -EACCES
							? SOUP_STATUS_FORBIDDEN
							: SOUP_STATUS_UNAUTHORIZED,
						NULL);
					req_free(r);
					return FALSE;
				}
				hs->authed = TRUE;
			}
		}
	} else {
		g_autofree char *id = NULL;
		if (cookie_id && is_hex_id(cookie_id))
			id = g_ascii_strdown(cookie_id, -1);
		hs = id && table ? g_hash_table_lookup(table, id) : NULL;
		if (hs && hs->digest)
			hs = NULL;
		if (!hs) {
			char fresh[33];
			new_session_id(fresh);
			hs = session_new(fresh, peer, FALSE);
		}
		if (hs)
			r->set_cookie = g_strdup_printf(
				"mansession_id=\"%s\"; Version=1; Max-Age=%d",
				hs->key, httptimeout_s);
	}
	if (!hs) {
		g_mutex_unlock(&lock);
		soup_server_message_set_status(msg,
					       SOUP_STATUS_SERVICE_UNAVAILABLE,
					       "Too many HTTP sessions");
		req_free(r);
		return FALSE;
	}
	r->hs = hs_ref(hs);
	r->msg = g_object_ref(msg);
	hs->last_used = g_get_monotonic_time();
	soup_server_message_pause(msg);

	if (!*r->text) {
		/* No parameters (a browser opening /manager): nothing to run. */
		answer(r);
		g_mutex_unlock(&lock);
		return TRUE;
	}
	HttpRequest *cur = hs->current;
	if (cur && cur->waitevent && r->waitevent) {
		/* A newer WaitEvent ends the older with an empty body. */
		g_string_truncate(cur->out, 0);
		if (cur->submitted)
			hs->skip_wait++;
		hs->current = NULL;
		answer(cur);
	}
	g_queue_push_tail(&hs->pending, r);
	if (hs->current && hs->current->waitevent &&
	    hs->pending.length == 1) {
		/* As on TCP, new input ends a running WaitEvent. */
		r->submitted = TRUE;
		if (ami_virtual_session_submit(hs->vs, r->text) != 0)
			r->submitted = FALSE;
	}
	start_next(hs);
	g_mutex_unlock(&lock);
	return TRUE;
}

void http_sessions_expire(void)
{
	gint64 now = g_get_monotonic_time();
	g_mutex_lock(&lock);
	if (!table) {
		g_mutex_unlock(&lock);
		return;
	}
	GPtrArray *drop = g_ptr_array_new();
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, table);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		HttpSession *hs = v;
		if (hs->current) {
			if (now > hs->current->deadline)
				finish_current(hs); /* answer what we have */
			continue;
		}
		if (hs->pending.length)
			continue;
		int limit = hs->authed ? httptimeout_s : MIN(5, httptimeout_s);
		if (now - hs->last_used > (gint64)limit * G_USEC_PER_SEC)
			g_ptr_array_add(drop, hs);
	}
	for (guint i = 0; i < drop->len; i++)
		session_drop(drop->pdata[i]);
	g_ptr_array_unref(drop);
	g_mutex_unlock(&lock);
}

void http_sessions_counts(guint *total, guint *authed, guint64 *queued,
			  guint64 *dropped)
{
	g_mutex_lock(&lock);
	*total = 0;
	*authed = 0;
	*queued = 0;
	if (table) {
		GHashTableIter it;
		gpointer v;
		g_hash_table_iter_init(&it, table);
		while (g_hash_table_iter_next(&it, NULL, &v)) {
			HttpSession *hs = v;
			(*total)++;
			if (hs->authed)
				(*authed)++;
			*queued += hs->events.length;
		}
	}
	*dropped = dropped_total;
	g_mutex_unlock(&lock);
}
