/*
 * I/O workers: each is a thread with its own GMainContext, one epoll fd
 * wrapped in a single GSource, and the sessions assigned to it.  Other
 * threads talk to a worker through its inbox (a mutex-guarded array and an
 * eventfd), never by touching its sessions.
 */
#ifndef AMID_WORKER_H
#define AMID_WORKER_H

#include <glib.h>
#include "session.h"
#include "tls.h"

G_BEGIN_DECLS

struct AmidWorker {
	guint index;
	GThread *thread;
	GMainContext *ctx;
	GMainLoop *loop;
	GSource *io_source;
	GSource *tick;
	int epfd;
	int evfd;

	GMutex inbox_lock;
	GPtrArray *inbox; /* AmidInboxItem* */

	GHashTable *sessions; /* AmiSession* set */
	GPtrArray *authed; /* logged-in sessions, for event fan-out */
	GPtrArray *dirty; /* sessions with output to flush this pass */
	GPtrArray *dead; /* sessions to free at the end of the pass */
	GHashTable *timed; /* sessions with a deadline */

	int listen_fd; /* this worker's listening socket, -1 if none */
	int tls_listen_fd; /* its TLS listening socket, -1 if none */
	GHashTable *tls_handshakes; /* TLS handshakes running (tls.c) */
	int spare_fd; /* given up to shed a connection when out of fds */
};

/** Start @n workers.  Must be called once, before any accept. */
void amid_workers_start(guint n);
/** Stop every worker: close its sessions, join the thread, free it. */
void amid_workers_stop(void);
/** Number of workers started. */
guint amid_workers_count(void);
/**
 * Give worker i the listening socket @fds[i] (ownership passes); @tls:
 * connections accepted on it start with a TLS handshake.
 */
void amid_workers_listen(const int *fds, guint n, gboolean tls);
/** Hand a connected socket to the next worker (round robin). */
void amid_workers_assign(int fd, const char *peer);
/** Queue a formatted event to every worker; they fan it out. */
void amid_workers_publish(int category, GBytes *event);
/** Deliver FullyBooted to logged-in sessions that have not had it. */
void amid_workers_broadcast_fullybooted(void);

/**
 * Drop @module's datastores from every session (each worker does its own,
 * holding a module reference until done).
 */
void amid_workers_sweep_module(AmiModule *module);
/** Apply a reloaded configuration to every logged-in session. */
void amid_workers_apply_config(AmidConfig *c);
/** A blocking action finished on the pool: resume @s on its worker. */
void amid_worker_job_done(AmidWorker *w, AmiSession *s, int ret);

/* Virtual sessions (virtual.c): pick a worker and create the session
 * there; FALSE when no worker runs. */
gboolean amid_workers_open_virtual(struct AmiVirtualSession *vs,
				   guint *worker_index);
/* Post a request (NULL = close) to the session's worker. */
gboolean amid_workers_login_virtual(struct AmiVirtualSession *vs,
				    guint worker_index, const char *username,
				    int event_mask);
gboolean amid_workers_submit_virtual(struct AmiVirtualSession *vs,
				     guint worker_index, GBytes *request);
/* Take a new session into the worker's table (and epoll, if it has a fd). */
void amid_worker_adopt(AmidWorker *w, AmiSession *s);

/* Used by sessions. */
void amid_worker_mark_dirty(AmidWorker *w, AmiSession *s);
void amid_worker_update_epoll(AmidWorker *w, AmiSession *s);
void amid_worker_set_timed(AmidWorker *w, AmiSession *s);
void amid_worker_add_authed(AmidWorker *w, AmiSession *s);
void amid_worker_bury(AmidWorker *w, AmiSession *s);
/**
 * Start a session on @fd, which holds one authlimit count (it passes to
 * the session).  @tls: its TLS connection, handshake done (tls.c calls
 * this from the handshake's callback), NULL for plain TCP.
 */
void amid_worker_start_session(AmidWorker *w, int fd, const char *peer,
			       AmidTls *tls);

G_END_DECLS

#endif
