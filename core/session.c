/*
 * A TCP manager session: reading and parsing input, running actions in
 * order, queueing output, and the per-session deadlines (auth timeout,
 * delayed login failure, WaitEvent, write stall).
 */
#include "session.h"
#include "actions.h"
#include "auth.h"
#include "core.h"
#include "datastore.h"
#include "sessreg.h"
#include "virtual.h"
#include "worker.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define READ_CHUNK 16384
#define READS_PER_PASS 4
/* Input kept while actions are paused before we stop reading the socket. */
#define PAUSED_INPUT_LIMIT (2 * AMID_MAX_MESSAGE)

static gint64 next_id = 1;

/* "1.2.3.4:5" → "1.2.3.4", "[::1]:5" → "::1" */
void amid_peer_address(const char *peer, char *out, gsize size)
{
	const char *start = peer[0] == '[' ? peer + 1 : peer;
	const char *end = peer[0] == '[' ? strchr(start, ']')
					 : strrchr(start, ':');
	gsize len = end ? (gsize)(end - start) : strlen(start);
	g_strlcpy(out, start, MIN(size, len + 1));
}

AmiSession *amid_session_new(AmidWorker *w, int fd, const char *peer)
{
	g_autoptr(AmidConfig) c = amid_core_config();
	AmiSession *s = g_new0(AmiSession, 1);
	s->worker = w;
	s->fd = fd;
	s->id = (guint64)g_atomic_pointer_add(&next_id, 1);
	g_strlcpy(s->peer, peer, sizeof(s->peer));
	amid_peer_address(peer, s->peer_addr, sizeof(s->peer_addr));
	s->event_mask = AMI_EVENT_FLAG_ALL;
	s->displayconnects = c->displayconnects;
	s->writetimeout_ms = c->writetimeout_ms;
	s->queuelimit = c->queuelimit;
	s->authed_index = -1;
	g_mutex_init(&s->ds_lock);
	amid_parser_init(&s->parser);
	s->stat_counted = TRUE;
	amid_stat_add(AMID_STAT_SESSIONS_OPENED, 1);
	if (fd < 0) {
		/* Opened by a module (virtual.c): no banner, no authtimeout —
		 * its transport decides how long it lives. */
		return s;
	}
	s->auth_deadline = g_get_monotonic_time() +
			   (gint64)c->authtimeout_s * G_USEC_PER_SEC;

	if (amid_auth_banned(s->peer_addr)) {
		/* Throttled address: closed before the banner, like authlimit. */
		g_debug("connection from banned address %s refused", s->peer);
		s->closing = TRUE;
		s->displayconnects = FALSE;
		amid_worker_mark_dirty(w, s);
		amid_worker_set_timed(w, s);
		return s;
	}
	GString *out = amid_outqueue_tail(&s->out);
	g_string_append(out, "Asterisk Call Manager/");
	g_string_append(out, c->ami_version);
	g_string_append(out, "\r\n");
	amid_worker_mark_dirty(w, s);
	amid_worker_set_timed(w, s);
	return s;
}

AmiSession *amid_session_new_detached(const char *name, int writeperm)
{
	AmiSession *s = g_new0(AmiSession, 1);
	s->fd = -1;
	s->id = (guint64)g_atomic_pointer_add(&next_id, 1);
	g_strlcpy(s->peer, "internal", sizeof(s->peer));
	s->authenticated = TRUE;
	s->username = g_strdup(name);
	s->writeperm = writeperm;
	s->authed_index = -1;
	g_mutex_init(&s->ds_lock);
	amid_parser_init(&s->parser);
	return s;
}

const char *amid_session_detached_output(AmiSession *s)
{
	return s->reply ? s->reply->str : "";
}

/* Give back the session's count for allowmultiplelogin. */
static void release_login(AmiSession *s)
{
	if (s->counts_login) {
		amid_core_login_count(s->username, -1);
		s->counts_login = FALSE;
	}
}

static void note_queued(AmiSession *s, gsize bytes)
{
	amid_sessreg_note_queued(s, bytes);
	amid_stat_add(AMID_STAT_QUEUED_BYTES,
		      (gint64)bytes - (gint64)s->stat_queued);
	s->stat_queued = bytes;
}

void amid_session_free(AmiSession *s)
{
	if (s->stat_counted) {
		amid_stat_add(AMID_STAT_SESSIONS_CLOSED, 1);
		if (s->authenticated)
			amid_stat_add(AMID_STAT_SESSIONS_AUTHED, -1);
		amid_stat_add(AMID_STAT_QUEUED_BYTES, -(gint64)s->stat_queued);
	}
	amid_datastores_free_all(s);
	amid_sessreg_remove(s);
	g_mutex_clear(&s->ds_lock);
	if (s->fd >= 0)
		close(s->fd);
	if (s->tls)
		amid_tls_free(s->tls); /* closes its own dup of the socket */
	if (!s->authenticated)
		amid_core_unauth_remove();
	release_login(s);
	if (s->filters)
		g_ptr_array_unref(s->filters);
	if (s->own_filters)
		g_ptr_array_unref(s->own_filters);
	if (s->config)
		amid_config_unref(s->config);
	if (s->virt)
		ami_virtual_session_unref(s->virt);
	amid_outqueue_clear(&s->out);
	amid_parser_clear(&s->parser);
	if (s->reply)
		g_string_free(s->reply, TRUE);
	g_free(s->username);
	g_free(s->fail_reply);
	g_free(s->wait_idline);
	g_free(s);
}

/* ------------------------------------------------------------- output */

static GString *reply_buf(AmiSession *s);

/* Drop a client whose unwritten output passed the queue limit. */
static gboolean over_limit(AmiSession *s)
{
	gsize pending = amid_outqueue_pending(&s->out);
	note_queued(s, pending);
	if (pending <= s->queuelimit)
		return FALSE;
	g_warning("Session %s from %s: output queue over %zu bytes, "
		  "disconnecting a client that does not read",
		  s->username ? s->username : "(unauthenticated)", s->peer,
		  s->queuelimit);
	amid_log_security("QueueOverflow", s->username, s->peer,
			  "client stopped reading");
	amid_session_close(s, "queue limit");
	return TRUE;
}

void amid_session_queue(AmiSession *s, GBytes *b)
{
	if (s->dead)
		return;
	if (!s->worker) {
		/* detached: everything is output for the caller */
		gsize len;
		const char *data = g_bytes_get_data(b, &len);
		g_string_append_len(reply_buf(s), data, (gssize)len);
		return;
	}
	amid_outqueue_push(&s->out, b);
	if (!over_limit(s))
		amid_worker_mark_dirty(s->worker, s);
	else
		amid_stat_add(AMID_STAT_EVENTS_DROPPED, 1);
}

void amid_session_queue_str(AmiSession *s, const char *text)
{
	g_autoptr(GBytes) b = g_bytes_new(text, strlen(text));
	amid_session_queue(s, b);
}

/*
 * After an action: replies were written straight into the output tail
 * (or, for a blocking action, into s->reply, appended now).
 */
static void commit_reply(AmiSession *s)
{
	if (!s->worker || s->dead)
		return;
	if (s->reply && s->reply->len) {
		g_string_append_len(amid_outqueue_tail(&s->out), s->reply->str,
				    (gssize)s->reply->len);
		g_string_truncate(s->reply, 0);
	}
	if (amid_outqueue_pending(&s->out) && !over_limit(s))
		amid_worker_mark_dirty(s->worker, s);
}

void amid_session_flush_dirty(AmiSession *s)
{
	/* A socket known to be full waits for EPOLLOUT instead. */
	if (s->stall_since && !s->dead)
		return;
	amid_session_flush(s);
}

void amid_session_flush(AmiSession *s)
{
	if (s->dead)
		return;
	if (s->virt) {
		amid_virtual_output(s);
		if (s->closing)
			amid_session_close(s, "closing");
		return;
	}
	if (amid_outqueue_pending(&s->out)) {
		gssize w = s->tls ? amid_outqueue_flush_tls(&s->out, s->tls)
				  : amid_outqueue_flush(&s->out, s->fd);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			amid_session_close(s, "write error");
			return;
		}
		if (w > 0)
			amid_stat_add(AMID_STAT_BYTES_OUT, w);
		note_queued(s, amid_outqueue_pending(&s->out));
		if (amid_outqueue_pending(&s->out)) {
			if (w > 0 || s->stall_since == 0) {
				/* the clock runs from the last progress */
				s->stall_since = g_get_monotonic_time();
				amid_worker_set_timed(s->worker, s);
			}
		} else {
			s->stall_since = 0;
		}
	}
	if (s->closing && amid_outqueue_pending(&s->out) == 0) {
		amid_session_close(s, "closing");
		return;
	}
	amid_worker_update_epoll(s->worker, s);
}

void amid_session_close(AmiSession *s, const char *why)
{
	if (s->dead)
		return;
	s->dead = TRUE;
	release_login(s); /* at once: the user may log in again right away */
	amid_sessreg_remove(s);
	if (s->authenticated) {
		if (s->displayconnects)
			g_message("Manager '%s' logged off from %s",
				  s->username, s->peer);
	} else if (s->displayconnects) {
		g_message("Connect attempt from '%s' unable to authenticate",
			  s->peer);
	}
	g_debug("session %" G_GUINT64_FORMAT " closed: %s", s->id, why);
	if (s->virt)
		amid_virtual_closed(s);
	amid_worker_bury(s->worker, s);
}

/* ------------------------------------------------------------- replies */

/*
 * Where replies go: straight into the output tail, except while a
 * blocking action runs on the pool (the worker may be queueing events
 * meanwhile) and for detached sessions.
 */
static GString *reply_buf(AmiSession *s)
{
	if (s->worker && !s->busy)
		return amid_outqueue_tail(&s->out);
	if (!s->reply)
		s->reply = g_string_sized_new(256);
	return s->reply;
}

static void append_actionid(GString *out, const AmiMessage *m)
{
	const char *id = ami_get_header(m, "ActionID");
	if (*id) {
		g_string_append(out, "ActionID: ");
		g_string_append(out, id);
		g_string_append(out, "\r\n");
	}
}

AMI_API char *ami_action_id_line(const AmiMessage *m)
{
	GString *out = g_string_new(NULL);
	append_actionid(out, m);
	return g_string_free(out, FALSE);
}

AMI_API void ami_send_response(AmiSession *s, const AmiMessage *m,
			       const char *resp, const char *msg)
{
	GString *out = reply_buf(s);
	g_string_append(out, "Response: ");
	g_string_append(out, resp);
	g_string_append(out, "\r\n");
	append_actionid(out, m);
	if (msg) {
		g_string_append(out, "Message: ");
		g_string_append(out, msg);
		g_string_append(out, "\r\n");
	}
	g_string_append(out, "\r\n");
}

AMI_API void ami_send_ack(AmiSession *s, const AmiMessage *m, const char *msg)
{
	ami_send_response(s, m, "Success", msg);
}

AMI_API void ami_send_error(AmiSession *s, const AmiMessage *m,
			    const char *msg)
{
	ami_send_response(s, m, "Error", msg ? msg : "");
}

AMI_API void ami_send_error_va(AmiSession *s, const AmiMessage *m,
			       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	ami_send_error(s, m, msg);
}

AMI_API void ami_send_listack(AmiSession *s, const AmiMessage *m,
			      const char *msg, const char *listflag)
{
	GString *out = reply_buf(s);
	g_string_append(out, "Response: Success\r\n");
	append_actionid(out, m);
	if (listflag)
		g_string_append_printf(out, "EventList: %s\r\n", listflag);
	if (msg)
		g_string_append_printf(out, "Message: %s\r\n", msg);
	g_string_append(out, "\r\n");
}

AMI_API void ami_send_start_ack(AmiSession *s, const AmiMessage *m)
{
	GString *out = reply_buf(s);
	g_string_append(out, "Response: Success\r\n");
	append_actionid(out, m);
}

AMI_API void ami_send_list_complete_start(AmiSession *s, const AmiMessage *m,
					  const char *event_name, int count)
{
	GString *out = reply_buf(s);
	g_string_append_printf(out, "Event: %s\r\n", event_name);
	append_actionid(out, m);
	g_string_append_printf(out, "EventList: Complete\r\nListItems: %d\r\n",
			       count);
}

AMI_API void ami_send_list_complete_end(AmiSession *s)
{
	g_string_append(reply_buf(s), "\r\n");
}

/* g_string_append_vprintf() without its temporary allocation. */
static void append_vprintf(GString *out, const char *fmt, va_list ap)
{
	for (;;) {
		gsize room = out->allocated_len - out->len;
		va_list copy;
		va_copy(copy, ap);
		int n = vsnprintf(out->str + out->len, room, fmt, copy);
		va_end(copy);
		if (n < 0)
			return;
		if ((gsize)n < room) {
			out->len += (gsize)n;
			return;
		}
		/* grow (the string keeps its terminator) and retry */
		gsize len = out->len;
		g_string_set_size(out, len + (gsize)n + 1);
		g_string_truncate(out, len);
	}
}

AMI_API void ami_append(AmiSession *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	append_vprintf(reply_buf(s), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------- queries */

AMI_API gboolean ami_session_is_authenticated(const AmiSession *s)
{
	return s->authenticated;
}

AMI_API const char *ami_session_username(const AmiSession *s)
{
	return s->username ? s->username : "";
}

AMI_API const char *ami_session_peer(const AmiSession *s)
{
	return s->peer;
}

AMI_API int ami_session_readperm(const AmiSession *s)
{
	return s->readperm;
}

AMI_API int ami_session_writeperm(const AmiSession *s)
{
	return s->writeperm;
}

AMI_API gboolean ami_session_can_read(const AmiSession *s, int category)
{
	return s->authenticated &&
	       (amid_session_effective_mask(s) & category) == category;
}

AMI_API gboolean ami_session_can_write(const AmiSession *s, int authority)
{
	return s->authenticated && (authority == 0 || (s->writeperm & authority));
}

AMI_API void ami_session_set_event_mask(AmiSession *s, int mask)
{
	s->event_mask = mask;
}

/* ------------------------------------------------------------- dispatch */

static void process_input(AmiSession *s);
static void finish_after_eof(AmiSession *s);

static void end_action(AmiSession *s, int ret)
{
	if (ret != AMI_SUCCESS) {
		s->closing = TRUE;
		s->paused = TRUE;
	}
}

/* ---- blocking actions: run on a thread pool while the session waits */

typedef struct {
	AmiSession *s;
	AmidAction *a;
	AmiMessage *m;
} Job;

static GMutex pool_lock;
static GThreadPool *pool;
static gboolean pool_closed;

static void run_job(gpointer data, gpointer unused)
{
	Job *j = data;
	int ret = amid_action_call(j->a, j->s, j->m);
	amid_action_release(j->a);
	amid_message_free(j->m);
	amid_worker_job_done(j->s->worker, j->s, ret);
	g_free(j);
}

static void start_job(AmiSession *s, AmidAction *a, const AmiMessage *m)
{
	Job *j = g_new0(Job, 1);
	j->s = s;
	j->a = a;
	j->m = amid_message_new();
	for (guint i = 0; i < m->n; i++) {
		const char *line = ami_message_line(m, i);
		amid_message_add_line(j->m, line, strlen(line));
	}
	g_mutex_lock(&pool_lock);
	if (!pool && !pool_closed)
		pool = g_thread_pool_new(run_job, NULL, 16, FALSE, NULL);
	gboolean ok = pool != NULL;
	if (ok) {
		s->busy = TRUE;
		s->paused = TRUE;
		g_thread_pool_push(pool, j, NULL);
	}
	g_mutex_unlock(&pool_lock);
	if (!ok) {
		amid_action_release(a);
		amid_message_free(j->m);
		g_free(j);
		ami_send_error(s, m, "Server is shutting down");
		commit_reply(s);
	}
}

void amid_sessions_drain_jobs(void)
{
	g_mutex_lock(&pool_lock);
	GThreadPool *p = pool;
	pool = NULL;
	pool_closed = TRUE;
	g_mutex_unlock(&pool_lock);
	if (p)
		g_thread_pool_free(p, FALSE, TRUE);
}

void amid_session_job_done(AmiSession *s, int ret)
{
	s->busy = FALSE;
	if (s->orphan) {
		amid_session_free(s);
		return;
	}
	commit_reply(s);
	if (s->dead)
		return;
	end_action(s, ret);
	if (!s->closing)
		s->paused = FALSE;
	process_input(s);
	finish_after_eof(s);
	if (!s->dead)
		amid_worker_update_epoll(s->worker, s);
}

/* general.debug: the request in the log, secrets redacted. */
static void log_request(AmiSession *s, const AmiMessage *m, const char *action)
{
	g_autoptr(GString) text = g_string_new(NULL);
	for (guint i = 0; i < m->n; i++) {
		const char *line = ami_message_line(m, i);
		if (!g_ascii_strncasecmp(line, "Secret:", 7) ||
		    !g_ascii_strncasecmp(line, "Key:", 4)) {
			const char *colon = strchr(line, ':');
			g_string_append_len(text, line, colon - line);
			g_string_append(text, ": <redacted from logging>");
		} else {
			g_string_append(text, line);
		}
		g_string_append(text, " | ");
	}
	g_autofree char *shown = amid_log_escape(text->str);
	g_autofree char *name = amid_log_escape(*action ? action : "(none)");
	g_message("Manager received command '%s' from %s: %s", name, s->peer,
		  shown);
}

static void handle_message(AmiSession *s, const AmiMessage *m)
{
	if (m->flags) {
		g_warning("Discarding message from %s: %s", s->peer,
			  amid_message_flag_error(m->flags));
		ami_send_error(s, m, amid_message_flag_error(m->flags));
		commit_reply(s);
		return;
	}
	const char *action = amid_message_action(m);
	if (amid_core_debug())
		log_request(s, m, action);
	if (!*action) {
		ami_send_error(s, m, "Missing action in request");
		commit_reply(s);
		return;
	}
	if (!s->authenticated && !amid_auth_is_auth_action(action)) {
		ami_send_error(s, m, "Permission denied");
		commit_reply(s);
		return;
	}

	AmidAction *a = NULL;
	switch (amid_actions_acquire(action, s->writeperm, &a)) {
	case AMID_LOOKUP_UNKNOWN:
		amid_stat_add(AMID_STAT_ACTIONS_UNKNOWN, 1);
		ami_send_error_va(s, m,
				  "Invalid/unknown command: %s. Use Action: "
				  "ListCommands to show available commands.",
				  action);
		break;
	case AMID_LOOKUP_DENIED:
		amid_stat_add(AMID_STAT_ACTIONS_DENIED, 1);
		amid_log_security("RequestNotAllowed", s->username, s->peer,
				  action);
		ami_send_error(s, m, "Permission denied");
		break;
	case AMID_LOOKUP_FOUND:
		amid_stat_add(AMID_STAT_ACTIONS, 1);
		if ((amid_action_flags(a) & AMI_ACTION_BLOCKING) && s->worker) {
			start_job(s, a, m);
			return;
		}
		end_action(s, amid_action_call(a, s, m));
		amid_action_release(a);
		break;
	}
	commit_reply(s);
}

void amid_session_run_message(AmiSession *s, const AmiMessage *m)
{
	handle_message(s, m);
}

/* Run every complete message while the session is not paused. */
static void process_input(AmiSession *s)
{
	while (!s->dead && !s->paused && !s->closing) {
		AmiMessage *m;
		AmidParseResult r = amid_parser_next(&s->parser, &m);
		if (r == AMID_PARSE_NEED_MORE)
			break;
		if (r == AMID_PARSE_ABUSE) {
			g_warning("Disconnecting %s: over %d bytes of "
				  "unparseable input",
				  s->peer, AMID_MAX_GARBAGE);
			amid_log_security("RequestBadFormat", s->username,
					  s->peer, "unparseable input flood");
			amid_session_close(s, "garbage");
			return;
		}
		handle_message(s, m);
	}
	if (!s->dead)
		amid_parser_shrink(&s->parser);
}

static void complete_wait(AmiSession *s)
{
	g_autofree char *text = g_strdup_printf(
		"Event: WaitEventComplete\r\n%s\r\n",
		s->wait_idline ? s->wait_idline : "");
	amid_session_queue_str(s, text);
	s->waiting = FALSE;
	s->wait_deadline = 0;
	g_clear_pointer(&s->wait_idline, g_free);
	s->paused = FALSE;
	process_input(s);
	finish_after_eof(s);
}

void amid_session_event_delivered(AmiSession *s)
{
	if (s->waiting && !s->dead)
		complete_wait(s);
}

/*
 * The peer shut down its side (half-close, or a full close seen as EOF).
 * The requests already received are answered and the output written
 * before the connection closes, as Asterisk does; a pending login failure
 * still waits for its delay.  A session busy with a blocking action or a
 * WaitEvent closes at once.
 */
/*
 * After the client half-closed: once nothing is running (no blocking
 * action, no WaitEvent) and all it sent has been answered, write the
 * output out and close.
 */
static void finish_after_eof(AmiSession *s)
{
	if (!s->peer_eof || s->dead || s->busy || s->waiting)
		return;
	s->closing = TRUE;
	s->paused = TRUE;
	if (!s->fail_at)
		amid_worker_mark_dirty(s->worker, s); /* flushed, then closed */
	amid_worker_update_epoll(s->worker, s);
}

static void on_peer_eof(AmiSession *s)
{
	/* A second EOF comes only with EPOLLHUP/EPOLLERR: the connection is
	 * gone both ways, nothing more can be written. */
	if (s->peer_eof) {
		amid_session_close(s, "peer closed");
		return;
	}
	s->peer_eof = TRUE;
	amid_worker_update_epoll(s->worker, s); /* no EPOLLIN any more */
	if (s->waiting && !s->fail_at)
		complete_wait(s); /* the end of input ends a WaitEvent too */
	finish_after_eof(s);
}

static inline void read_plain(AmiSession *s, gboolean *got, gboolean *eof)
{
	for (int i = 0; i < READS_PER_PASS && !s->dead; i++) {
		if (s->paused && amid_parser_pending(&s->parser) > PAUSED_INPUT_LIMIT)
			break;
		guint8 *dst = amid_parser_reserve(&s->parser, READ_CHUNK);
		ssize_t n = read(s->fd, dst, READ_CHUNK);
		if (n > 0) {
			amid_parser_commit(&s->parser, (gsize)n);
			amid_stat_add(AMID_STAT_BYTES_IN, n);
			*got = TRUE;
			if ((gsize)n < READ_CHUNK)
				break;
			continue;
		}
		if (n == 0) {
			*eof = TRUE;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			amid_session_close(s, g_strerror(errno));
		break;
	}
}

/*
 * TLS: one record per read, read until the connection would block (a
 * record is at most 16 KiB = READ_CHUNK, so nothing decrypted is ever left
 * inside the TLS layer; what we leave unread stays in the kernel and keeps
 * epoll firing).  TLS_READS_PER_PASS bounds one pass for fairness.
 */
#define TLS_READS_PER_PASS 64
static void read_tls(AmiSession *s, gboolean *got, gboolean *eof)
{
	for (int i = 0; i < TLS_READS_PER_PASS && !s->dead; i++) {
		if (s->paused && amid_parser_pending(&s->parser) > PAUSED_INPUT_LIMIT)
			break;
		guint8 *dst = amid_parser_reserve(&s->parser, READ_CHUNK);
		gssize n = amid_tls_read(s->tls, dst, READ_CHUNK);
		if (n > 0) {
			amid_parser_commit(&s->parser, (gsize)n);
			amid_stat_add(AMID_STAT_BYTES_IN, n);
			*got = TRUE;
			continue;
		}
		if (n == 0) {
			*eof = TRUE;
			break;
		}
		if (errno != EAGAIN)
			amid_session_close(s, "TLS read error");
		break;
	}
}

void amid_session_feed(AmiSession *s, const char *data, gsize len)
{
	if (s->dead)
		return;
	amid_stat_add(AMID_STAT_BYTES_IN, (gint64)len);
	amid_parser_feed(&s->parser, data, len);
	if (s->waiting)
		complete_wait(s); /* new input ends a WaitEvent, as on TCP */
	else
		process_input(s);
}

void amid_session_on_readable(AmiSession *s)
{
	gboolean got = FALSE, eof = FALSE;
	if (s->tls)
		read_tls(s, &got, &eof);
	else
		read_plain(s, &got, &eof);
	if (s->dead)
		return;
	if (s->fail_at) {
		/* Failed login pending: input is ignored until we close. */
		amid_parser_clear(&s->parser);
		if (eof)
			on_peer_eof(s);
		return;
	}
	if (got && s->waiting)
		complete_wait(s);
	else
		process_input(s);
	if (eof && !s->dead)
		on_peer_eof(s);
	if (!s->dead)
		amid_worker_update_epoll(s->worker, s);
}

/* ------------------------------------------------------------- deadlines */

gint64 amid_session_next_deadline(const AmiSession *s)
{
	gint64 d = 0;
#define CONSIDER(t)                                                          \
	if ((t) && (!d || (t) < d))                                          \
	d = (t)
	if (!s->authenticated)
		CONSIDER(s->auth_deadline);
	CONSIDER(s->fail_at);
	if (s->waiting)
		CONSIDER(s->wait_deadline);
	if (s->stall_since)
		CONSIDER(s->stall_since +
			 (gint64)s->writetimeout_ms * G_TIME_SPAN_MILLISECOND);
#undef CONSIDER
	return d;
}

void amid_session_check_deadlines(AmiSession *s, gint64 now)
{
	if (s->dead)
		return;
	if (s->fail_at && now >= s->fail_at) {
		s->fail_at = 0;
		amid_session_queue_str(s, s->fail_reply);
		s->closing = TRUE;
		amid_session_flush(s);
		return;
	}
	if (!s->authenticated && s->auth_deadline && now >= s->auth_deadline &&
	    !s->fail_at) {
		g_autoptr(AmidConfig) c = amid_core_config();
		if (s->displayconnects)
			g_message("Client from %s, failed to authenticate in "
				  "%d seconds",
				  s->peer, c->authtimeout_s);
		amid_log_security("AuthTimeout", NULL, s->peer,
				  "no login before authtimeout");
		amid_session_close(s, "authtimeout");
		return;
	}
	if (s->stall_since &&
	    now - s->stall_since >
		    (gint64)s->writetimeout_ms * G_TIME_SPAN_MILLISECOND) {
		/* The worker may have been busy: try once more before
		 * blaming the client.  Any progress restarts the clock. */
		gint64 before = s->stall_since;
		amid_session_flush(s);
		if (s->dead || s->stall_since != before)
			return;
		g_warning("Session %s from %s did not read for %d ms "
			  "(writetimeout): disconnected",
			  s->username ? s->username : "(unauthenticated)",
			  s->peer, s->writetimeout_ms);
		amid_session_close(s, "writetimeout");
		return;
	}
	if (s->waiting && s->wait_deadline && now >= s->wait_deadline)
		complete_wait(s);
}

/* ------------------------------------------------------------- auth */

/* The filters in effect: the user's eventfilters plus the session's own. */
static void rebuild_filters(AmiSession *s, const AmidUser *u)
{
	if (s->filters)
		g_ptr_array_unref(s->filters);
	s->filters = NULL;
	guint n = (u && u->eventfilters ? u->eventfilters->len : 0) +
		  (s->own_filters ? s->own_filters->len : 0);
	if (!n)
		return;
	s->filters = g_ptr_array_sized_new(n);
	for (guint i = 0; u && u->eventfilters && i < u->eventfilters->len; i++)
		g_ptr_array_add(s->filters, u->eventfilters->pdata[i]);
	for (guint i = 0; s->own_filters && i < s->own_filters->len; i++)
		g_ptr_array_add(s->filters, s->own_filters->pdata[i]);
}

AMI_API int ami_session_add_filter(AmiSession *s, const char *filter,
				   char **error_out)
{
	g_autoptr(GError) e = NULL;
	AmidFilter *f = amid_filter_new(filter ? filter : "", &e);
	if (!f) {
		if (error_out)
			*error_out = g_strdup(e->message);
		return -EINVAL;
	}
	if (!s->own_filters)
		s->own_filters = g_ptr_array_new_with_free_func(
			(GDestroyNotify)amid_filter_free);
	g_ptr_array_add(s->own_filters, f);
	rebuild_filters(s, s->config ? amid_config_find_user(s->config,
							     s->username)
				     : NULL);
	return 0;
}

void amid_session_apply_config(AmiSession *s, AmidConfig *c)
{
	if (!s->authenticated || s->dead || !s->worker)
		return;
	const AmidUser *u = amid_config_find_user(c, s->username);
	if (!u) {
		g_message("Manager '%s' removed from the configuration: "
			  "closing its session from %s", s->username, s->peer);
		amid_session_close(s, "user removed");
		return;
	}
	s->readperm = u->readperm;
	s->writeperm = u->writeperm;
	s->displayconnects = u->displayconnects;
	s->writetimeout_ms = u->writetimeout_ms;
	amid_config_unref(s->config);
	s->config = amid_config_ref(c);
	rebuild_filters(s, u);
}

void amid_session_login_ok(AmiSession *s, AmidConfig *c, const AmidUser *u,
			   const char *username, int event_mask)
{
	s->authenticated = TRUE;
	amid_core_unauth_remove();
	amid_stat_add(AMID_STAT_LOGINS_OK, 1);
	if (s->stat_counted)
		amid_stat_add(AMID_STAT_SESSIONS_AUTHED, 1);
	s->auth_deadline = 0;
	g_free(s->username);
	s->username = g_strdup(username);
	s->config = amid_config_ref(c);
	s->readperm = u->readperm;
	s->writeperm = u->writeperm;
	s->event_mask = event_mask;
	s->displayconnects = u->displayconnects;
	s->writetimeout_ms = u->writetimeout_ms;
	rebuild_filters(s, u);
	amid_core_login_count(username, +1);
	s->counts_login = TRUE;
	amid_worker_add_authed(s->worker, s);
	amid_sessreg_add(s);
	/* Successes are logged with displayconnects, as Asterisk does. */
	if (s->displayconnects) {
		g_message("Manager '%s' logged on from %s", username, s->peer);
		amid_log_security("SuccessfulAuth", username, s->peer, "ok");
	}

	/*
	 * FullyBooted: the login copy when boot is done, else the broadcast
	 * will bring it.  Both run on this worker, so the flag makes it
	 * exactly once.
	 */
	int sys = AMI_EVENT_FLAG_SYSTEM;
	if (ami_core_fully_booted() && (amid_session_effective_mask(s) & sys)) {
		s->got_fullybooted = TRUE;
		g_autoptr(GBytes) ev = amid_core_fullybooted_event();
		g_string_append_len(reply_buf(s), g_bytes_get_data(ev, NULL),
				    (gssize)g_bytes_get_size(ev));
	}
}

void amid_session_login_failed(AmiSession *s, const AmiMessage *m,
			       const char *why)
{
	g_autoptr(AmidConfig) c = amid_core_config();
	g_autofree char *id = ami_action_id_line(m);
	amid_stat_add(AMID_STAT_LOGINS_FAILED, 1);
	g_free(s->fail_reply);
	s->fail_reply = g_strdup_printf(
		"Response: Error\r\n%sMessage: %s\r\n\r\n", id, why);
	if (c->authfaildelay_ms == 0) {
		amid_session_queue_str(s, s->fail_reply);
		s->closing = TRUE;
		s->paused = TRUE;
		return;
	}
	s->paused = TRUE;
	s->fail_at = g_get_monotonic_time() +
		     (gint64)c->authfaildelay_ms * G_TIME_SPAN_MILLISECOND;
	amid_worker_set_timed(s->worker, s);
}

AMI_API int ami_session_wait_event(AmiSession *s, const AmiMessage *m,
				   int timeout_s)
{
	ami_send_ack(s, m, "Waiting for Event completed.");
	if (!s->worker) {
		g_autofree char *id = ami_action_id_line(m);
		ami_append(s, "Event: WaitEventComplete\r\n%s\r\n", id);
		return AMI_SUCCESS;
	}
	s->waiting = TRUE;
	g_free(s->wait_idline);
	s->wait_idline = ami_action_id_line(m);
	s->paused = TRUE;
	s->wait_deadline =
		timeout_s < 0 ? 0
			      : g_get_monotonic_time() +
					(gint64)timeout_s * G_USEC_PER_SEC;
	if (s->wait_deadline)
		amid_worker_set_timed(s->worker, s);
	return AMI_SUCCESS;
}
