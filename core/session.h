/*
 * A manager session on a TCP connection.  A session belongs to one I/O
 * worker and is only ever touched by that worker's thread; other threads
 * reach it through the worker's inbox.
 */
#ifndef AMID_SESSION_H
#define AMID_SESSION_H

#include <glib.h>
#include <amid/manager.h>

#include "config.h"
#include "message.h"
#include "outqueue.h"
#include "tls.h"

G_BEGIN_DECLS

typedef struct AmidWorker AmidWorker;

struct AmiSession {
	AmidWorker *worker;
	int fd;
	AmidTls *tls; /* TLS connection (tls.c); NULL for plain TCP */
	guint64 id;
	char peer[64]; /* "1.2.3.4:5678" or "[::1]:5678" */
	char peer_addr[48]; /* the address alone, for ACLs */
	gboolean stat_counted; /* counted in the core statistics */
	gsize stat_queued; /* its share of AMID_STAT_QUEUED_BYTES */

	/* authentication and permissions */
	gboolean authenticated;
	char *username; /* as typed at login */
	int readperm;
	int writeperm;
	int event_mask; /* requested (Login Events:, Events action) */
	char challenge[24]; /* "" until Challenge */
	gboolean displayconnects;
	int writetimeout_ms;
	gsize queuelimit; /* bytes of output before the client is dropped */
	gboolean got_fullybooted;
	gboolean counts_login; /* holds one count in amid_core_login_count */

	/* input */
	AmidParser parser;
	gboolean paused; /* do not run further actions yet */

	/* output */
	AmidOutQueue out;
	GString *reply; /* reply being built by the running action */
	guint epoll_mask; /* events registered with epoll */
	gboolean in_epoll;
	gboolean dirty; /* in the worker's flush list */
	gboolean closing; /* close once the output is written */
	gboolean peer_eof; /* the peer shut down its side (see on_peer_eof) */
	gboolean dead; /* closed; freed at the end of the pass */

	/* deadlines in g_get_monotonic_time() µs; 0 = none */
	gint64 auth_deadline;
	gint64 fail_at; /* delayed "Authentication failed" */
	char *fail_reply;
	gint64 stall_since; /* output blocked since */
	gboolean waiting; /* WaitEvent in progress */
	gint64 wait_deadline; /* 0 = no limit */
	char *wait_idline;
	gboolean wait_got_event;

	int authed_index; /* in worker->authed, -1 if not there */
	struct AmidSessInfo *reg; /* in the CLI's registry while logged in
				   * (sessreg.c), else NULL */

	AmidConfig *config; /* the configuration the session logged in under */
	GPtrArray *filters; /* AmidFilter* in effect (borrowed), or NULL */
	GPtrArray *own_filters; /* AmidFilter* added by the Filter action */

	GSList *datastores; /* AmiDatastore*, newest first */
	GMutex ds_lock; /* datastores: a blocking handler and a module
			 * sweep may touch them from two threads */
	struct AmiVirtualSession *virt; /* opened by a module: output to a sink */
	gboolean busy; /* a blocking action runs on the pool */
	gboolean orphan; /* closed while busy: free when the job returns */
};

/** Effective event mask: read classes AND the requested mask. */
static inline int amid_session_effective_mask(const AmiSession *s)
{
	return s->readperm & s->event_mask;
}

AmiSession *amid_session_new(AmidWorker *w, int fd, const char *peer);
/**
 * A session with no connection (hooks, tests): logged in as @name with
 * write classes @writeperm and no read classes.  Replies accumulate and
 * are read with amid_session_detached_output().
 */
AmiSession *amid_session_new_detached(const char *name, int writeperm);
const char *amid_session_detached_output(AmiSession *s);
/** Run one complete message (dispatch, reply). */
void amid_session_run_message(AmiSession *s, const AmiMessage *m);
/** Wait for running blocking actions and refuse new ones (shutdown). */
void amid_sessions_drain_jobs(void);
/** A blocking action finished (worker thread). */
void amid_session_job_done(AmiSession *s, int ret);
void amid_session_free(AmiSession *s);

/** "1.2.3.4:5" → "1.2.3.4", "[::1]:5" → "::1" (the part ACLs check). */
void amid_peer_address(const char *peer, char *out, gsize size);
/** Add request bytes (virtual sessions) and run complete messages. */
void amid_session_feed(AmiSession *s, const char *data, gsize len);
/** Read what the socket has and run complete messages. */
void amid_session_on_readable(AmiSession *s);
/** Write queued output; handles EAGAIN and write stalls. */
void amid_session_flush(AmiSession *s);
/** End-of-pass flush: skipped while the socket is known to be full. */
void amid_session_flush_dirty(AmiSession *s);
/** Queue bytes for the client (response or event). */
void amid_session_queue(AmiSession *s, GBytes *b);
/** Queue a copy of a string. */
void amid_session_queue_str(AmiSession *s, const char *text);
/** Close now (logged with @why at debug level). */
void amid_session_close(AmiSession *s, const char *why);
/** Called on every worker tick for sessions with a deadline. */
void amid_session_check_deadlines(AmiSession *s, gint64 now);
/** An event was queued: end a pending WaitEvent. */
void amid_session_event_delivered(AmiSession *s);
/** Earliest deadline, 0 = none. */
gint64 amid_session_next_deadline(const AmiSession *s);

/** Does @s take an event with text @text (its filters)? */
static inline gboolean amid_session_filter_allows(const AmiSession *s,
						  GBytes *text)
{
	if (!s->filters)
		return TRUE;
	gsize len;
	const char *data = (const char *)g_bytes_get_data(text, &len);
	return amid_filters_allow(s->filters, data, (gssize)len);
}

/** Auth support (auth.c): @u belongs to @c; the session keeps a ref. */
void amid_session_login_ok(AmiSession *s, AmidConfig *c, const AmidUser *u,
			   const char *username, int event_mask);
/** New configuration: re-read @s's user (removed → closed). */
void amid_session_apply_config(AmiSession *s, AmidConfig *c);
/** Answer `Message: <why>` after the auth-failure delay, then close. */
void amid_session_login_failed(AmiSession *s, const AmiMessage *m,
			       const char *why);

G_END_DECLS

#endif
