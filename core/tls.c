/*
 * TLS through GIO (glib-networking's GnuTLS backend): certificate loading,
 * the asynchronous server handshake, and nonblocking read/writev for the
 * session once it runs.
 *
 * The GTlsServerConnection sits on a GSocket made from a dup() of the
 * accepted fd: the session keeps the original (epoll and the worker's
 * close work on it exactly as for plain TCP), GIO owns the duplicate.
 * Epoll readiness on the raw fd drives reads and writes.
 *
 * No decrypted input is ever stranded inside GnuTLS, where epoll cannot
 * see it: GnuTLS reads exactly one record from the socket per call and
 * every amid_tls_read() offers a buffer of at least one whole record
 * (16 KiB, TLS's largest), so whatever the session has not read yet is
 * still in the kernel and keeps the fd readable.
 */
#include "tls.h"
#include "core.h"
#include "session.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* TLS's largest record payload (2^14). */
#define TLS_RECORD 16384

struct AmidTls {
	GIOStream *conn; /* the GTlsServerConnection */
	GSocket *socket; /* under it: the dup of the session's fd */
	GPollableInputStream *in;
	GPollableOutputStream *out;
	gboolean write_blocked; /* GnuTLS holds a record it could not send */
};

typedef struct {
	AmidWorker *w;
	int fd; /* the accepted socket, handed to the session */
	char peer[64];
	GIOStream *conn;
	GSocket *socket;
	GCancellable *cancel;
	GSource *timer;
	int timeout_s;
	gboolean displayconnects;
	gboolean timed_out;
	gboolean stopping; /* the worker is shutting down */
} Handshake;

/* Loaded once at start-up, read by every worker. */
static GTlsCertificate *certificate;

gboolean amid_tls_init(const AmidConfig *c, GError **error)
{
	if (!c->tlsenable || certificate)
		return TRUE;
	if (!g_tls_backend_supports_tls(g_tls_backend_get_default())) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
			    "general.tlsenable: GIO has no TLS backend "
			    "(install glib-networking)");
		return FALSE;
	}
	const char *key = c->tlsprivatekey && *c->tlsprivatekey
				  ? c->tlsprivatekey
				  : c->tlscertfile;
	g_autoptr(GError) e = NULL;
	certificate = g_tls_certificate_new_from_files(c->tlscertfile, key, &e);
	if (!certificate) {
		if (strcmp(key, c->tlscertfile))
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
				    "general.tlscertfile '%s' / tlsprivatekey "
				    "'%s': %s",
				    c->tlscertfile, key, e->message);
		else
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
				    "general.tlscertfile '%s' (certificate and "
				    "key): %s",
				    c->tlscertfile, e->message);
		return FALSE;
	}
	if (c->tlscipher && *c->tlscipher)
		g_warning("general.tlscipher \"%s\" ignored: GIO's TLS backend "
			  "(GnuTLS) takes its cipher list from the system "
			  "policy, amid cannot set it",
			  c->tlscipher);
	return TRUE;
}

/*
 * Close without close_notify, so without waiting for the peer: closing
 * with a cancelled cancellable marks the stream closed and sends nothing
 * (its socket goes with the last reference).  Left open, the last unref
 * would close it with a blocking close_notify.
 */
static void close_without_alert(GIOStream *conn)
{
	GCancellable *now = g_cancellable_new();
	g_cancellable_cancel(now);
	g_io_stream_close(conn, now, NULL);
	g_object_unref(now);
}

/* ------------------------------------------------------------ handshake */

static void handshake_free(Handshake *hs)
{
	if (hs->timer) {
		g_source_destroy(hs->timer);
		g_source_unref(hs->timer);
	}
	g_clear_object(&hs->cancel);
	if (hs->conn)
		close_without_alert(hs->conn);
	g_clear_object(&hs->conn);
	g_clear_object(&hs->socket);
	g_free(hs);
}

static gboolean on_handshake_timeout(gpointer data)
{
	Handshake *hs = data;
	hs->timed_out = TRUE;
	g_cancellable_cancel(hs->cancel); /* the callback does the rest */
	return G_SOURCE_REMOVE;
}

static void on_handshake_done(GObject *src, GAsyncResult *res, gpointer data)
{
	Handshake *hs = data;
	g_autoptr(GError) e = NULL;
	gboolean ok = g_tls_connection_handshake_finish(G_TLS_CONNECTION(src),
							res, &e);
	g_hash_table_remove(hs->w->tls_handshakes, hs);

	if (ok && !hs->stopping && !hs->timed_out) {
		AmidTls *t = g_new0(AmidTls, 1);
		t->conn = g_steal_pointer(&hs->conn);
		t->socket = g_steal_pointer(&hs->socket);
		t->in = G_POLLABLE_INPUT_STREAM(
			g_io_stream_get_input_stream(t->conn));
		t->out = G_POLLABLE_OUTPUT_STREAM(
			g_io_stream_get_output_stream(t->conn));
		AmidWorker *w = hs->w;
		int fd = hs->fd;
		char peer[64];
		g_strlcpy(peer, hs->peer, sizeof(peer));
		handshake_free(hs);
		/* The session takes over the fd and the authlimit count. */
		amid_worker_start_session(w, fd, peer, t);
		return;
	}

	if (hs->stopping) {
		g_debug("TLS handshake with %s abandoned: shutdown", hs->peer);
	} else if (hs->timed_out) {
		if (hs->displayconnects)
			g_message("Client from %s, failed to complete the TLS "
				  "handshake in %d seconds",
				  hs->peer, hs->timeout_s);
		amid_log_security("AuthTimeout", NULL, hs->peer,
				  "no TLS handshake before authtimeout");
	} else if (hs->displayconnects) {
		g_message("Connect attempt from '%s' unable to authenticate: "
			  "TLS handshake failed: %s",
			  hs->peer, e ? e->message : "?");
	} else {
		g_debug("TLS handshake with %s failed: %s", hs->peer,
			e ? e->message : "?");
	}
	/* Input left unread would turn the close into a reset: a client that
	 * spoke plain AMI to this port sees a plain end of stream instead. */
	char sink[4096];
	for (int i = 0; i < 16; i++)
		if (recv(hs->fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
			break;
	close(hs->fd);
	amid_core_unauth_remove();
	handshake_free(hs);
}

/* The socket is not ours any more (or never was): give everything back. */
static void refuse(int fd, const char *peer, const char *what,
		   const GError *e)
{
	g_warning("TLS connection from %s refused: %s%s%s", peer, what,
		  e ? ": " : "", e ? e->message : "");
	close(fd);
	amid_core_unauth_remove();
}

void amid_tls_accept(AmidWorker *w, int fd, const char *peer)
{
	g_autoptr(GError) e = NULL;
	if (!certificate) {
		refuse(fd, peer, "no certificate loaded", NULL);
		return;
	}
	int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dupfd < 0) {
		g_autoptr(GError) de = g_error_new_literal(
			G_IO_ERROR, g_io_error_from_errno(errno),
			g_strerror(errno));
		refuse(fd, peer, "dup", de);
		return;
	}
	GSocket *sock = g_socket_new_from_fd(dupfd, &e);
	if (!sock) {
		close(dupfd);
		refuse(fd, peer, "g_socket_new_from_fd", e);
		return;
	}
	g_autoptr(GSocketConnection) sc =
		g_socket_connection_factory_create_connection(sock);
	GIOStream *conn =
		g_tls_server_connection_new(G_IO_STREAM(sc), certificate, &e);
	if (!conn) {
		g_object_unref(sock); /* sc closes the dup when it goes */
		refuse(fd, peer, "g_tls_server_connection_new", e);
		return;
	}
	/* A peer that just drops the TCP connection ends the session like
	 * EOF on plain TCP, not with an error. */
	g_tls_connection_set_require_close_notify(G_TLS_CONNECTION(conn),
						  FALSE);

	g_autoptr(AmidConfig) c = amid_core_config();
	Handshake *hs = g_new0(Handshake, 1);
	hs->w = w;
	hs->fd = fd;
	g_strlcpy(hs->peer, peer, sizeof(hs->peer));
	hs->conn = conn;
	hs->socket = sock;
	hs->cancel = g_cancellable_new();
	hs->timeout_s = c->authtimeout_s;
	hs->displayconnects = c->displayconnects;
	/* Deadline: authtimeout, as for logging in. */
	hs->timer = g_timeout_source_new((guint)c->authtimeout_s * 1000u);
	g_source_set_callback(hs->timer, on_handshake_timeout, hs, NULL);
	/* The worker's context: it runs as this thread's default. */
	g_source_attach(hs->timer, g_main_context_get_thread_default());
	if (!w->tls_handshakes)
		w->tls_handshakes = g_hash_table_new(NULL, NULL);
	g_hash_table_add(w->tls_handshakes, hs);
	g_tls_connection_handshake_async(G_TLS_CONNECTION(conn),
					 G_PRIORITY_DEFAULT, hs->cancel,
					 on_handshake_done, hs);
}

static gboolean wake(gpointer unused)
{
	return G_SOURCE_CONTINUE;
}

void amid_tls_worker_stop(AmidWorker *w)
{
	if (!w->tls_handshakes)
		return;
	GHashTableIter it;
	gpointer key;
	g_hash_table_iter_init(&it, w->tls_handshakes);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		Handshake *hs = key;
		hs->stopping = TRUE;
		g_cancellable_cancel(hs->cancel);
	}
	/* The callbacks come back through this context. */
	GMainContext *ctx = g_main_context_get_thread_default();
	GSource *tick = g_timeout_source_new(50);
	g_source_set_callback(tick, wake, NULL, NULL);
	g_source_attach(tick, ctx);
	gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
	while (g_hash_table_size(w->tls_handshakes) &&
	       g_get_monotonic_time() < end)
		g_main_context_iteration(ctx, TRUE);
	g_source_destroy(tick);
	g_source_unref(tick);
	if (g_hash_table_size(w->tls_handshakes))
		g_warning("worker %u: %u TLS handshake(s) did not stop",
			  w->index, g_hash_table_size(w->tls_handshakes));
	else
		g_clear_pointer(&w->tls_handshakes, g_hash_table_unref);
}

/* ------------------------------------------------------------ I/O */

gssize amid_tls_read(AmidTls *t, void *buf, gsize count)
{
	GError *e = NULL;
	gssize n = g_pollable_input_stream_read_nonblocking(t->in, buf, count,
							   NULL, &e);
	if (n >= 0)
		return n;
	if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
		errno = EAGAIN;
	} else {
		g_debug("TLS read: %s", e->message);
		errno = ECONNRESET;
	}
	g_error_free(e);
	return -1;
}

/* Small buffers (events, replies) are gathered into whole records. */
static _Thread_local guint8 stage[TLS_RECORD];

gssize amid_tls_writev(AmidTls *t, const struct iovec *iov, int n)
{
	gssize total = 0;
	int i = 0;
	gsize off = 0; /* into iov[i] */
	while (i < n) {
		if (iov[i].iov_len == off) {
			i++;
			off = 0;
			continue;
		}
		/*
		 * One record per write.  A buffer holding a record or more goes
		 * as it is; smaller ones are copied together.  After EAGAIN the
		 * caller comes back with the same bytes first and at least as
		 * many of them, which is what GnuTLS needs to finish the record
		 * it already built.
		 */
		const void *data;
		gsize len;
		if (iov[i].iov_len - off >= TLS_RECORD) {
			data = (const guint8 *)iov[i].iov_base + off;
			len = iov[i].iov_len - off;
		} else {
			len = 0;
			gsize o = off;
			for (int j = i; j < n && len < TLS_RECORD; j++, o = 0) {
				gsize take = MIN(iov[j].iov_len - o,
						 TLS_RECORD - len);
				memcpy(stage + len,
				       (const guint8 *)iov[j].iov_base + o, take);
				len += take;
			}
			data = stage;
		}
		GError *e = NULL;
		gssize w = g_pollable_output_stream_write_nonblocking(
			t->out, data, len, NULL, &e);
		if (w < 0) {
			int err = EAGAIN;
			if (g_error_matches(e, G_IO_ERROR,
					    G_IO_ERROR_WOULD_BLOCK)) {
				t->write_blocked = TRUE;
			} else {
				g_debug("TLS write: %s", e->message);
				err = EPIPE;
			}
			g_error_free(e);
			if (total > 0)
				return total; /* an error shows on the next call */
			errno = err;
			return -1;
		}
		t->write_blocked = FALSE;
		total += w;
		/* advance over w bytes */
		gsize left = (gsize)w;
		while (left && i < n) {
			gsize rest = iov[i].iov_len - off;
			if (left < rest) {
				off += left;
				left = 0;
			} else {
				left -= rest;
				i++;
				off = 0;
			}
		}
	}
	return total;
}

void amid_tls_free(AmidTls *t)
{
	if (!t)
		return;
	/*
	 * close_notify, best effort and never blocking the worker: only when
	 * GnuTLS holds no unsent record and the socket has room for the
	 * alert.  Otherwise the stream is closed with a cancelled
	 * cancellable, which skips the alert and just closes the socket.
	 */
	if (!t->write_blocked &&
	    (g_socket_condition_check(t->socket, G_IO_OUT) & G_IO_OUT)) {
		g_socket_set_timeout(t->socket, 1); /* belt and braces */
		g_io_stream_close(t->conn, NULL, NULL);
	} else {
		close_without_alert(t->conn);
	}
	g_socket_close(t->socket, NULL); /* at once, whatever happened */
	g_object_unref(t->conn);
	g_object_unref(t->socket);
	g_free(t);
}
