/*
 * TLS sessions (general.tlsenable) through GIO's TLS backend
 * (glib-networking, GnuTLS).  A TLS connection is accepted by a worker like
 * a plain one; its handshake runs asynchronously on the worker's
 * GMainContext with authtimeout as deadline, and only then does the
 * session start.  From there the session's raw fd stays in the worker's
 * epoll set and the session calls amid_tls_read()/amid_tls_writev()
 * instead of read()/writev(): the plain TCP path never touches GIO.
 */
#ifndef AMID_TLS_H
#define AMID_TLS_H

#include <glib.h>
#include <sys/uio.h>

#include "config.h"

G_BEGIN_DECLS

typedef struct AmidTls AmidTls;
typedef struct AmidWorker AmidWorker;

/**
 * Start-up (main thread, before any listener): when @c enables TLS, check
 * that GIO has a TLS backend and load tlscertfile/tlsprivatekey.  Errors
 * name the option and the file.
 */
gboolean amid_tls_init(const AmidConfig *c, GError **error);

/**
 * Worker thread: @fd was accepted on the TLS port (authlimit already
 * counted; ownership passes).  Starts the handshake; on success the
 * session starts (amid_worker_start_session()), on failure or at
 * authtimeout the socket is closed and the authlimit count given back.
 */
void amid_tls_accept(AmidWorker *w, int fd, const char *peer);

/**
 * Worker thread, after its loop quit: cancel the handshakes still running
 * and wait (bounded) for them to finish.
 */
void amid_tls_worker_stop(AmidWorker *w);

/**
 * Like read(2) on a nonblocking socket: bytes read (one TLS record at
 * most), 0 at end of stream, -1 with errno EAGAIN when nothing is
 * available, any other errno on error.
 */
gssize amid_tls_read(AmidTls *t, void *buf, gsize count);

/**
 * Like writev(2) on a nonblocking socket: bytes written (short when the
 * socket is full), or -1 with errno EAGAIN (nothing written) or another
 * errno on error.  After a short write or EAGAIN the caller retries from
 * the first unwritten byte (GnuTLS holds the record it already built).
 */
gssize amid_tls_writev(AmidTls *t, const struct iovec *iov, int n);

/** Send close_notify when that cannot block, close and free. */
void amid_tls_free(AmidTls *t);

G_END_DECLS

#endif
