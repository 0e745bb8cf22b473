/*
 * A session's output queue: a ring of references to immutable GBytes
 * (events are shared by every session that receives them) followed by a
 * private tail buffer that replies are written into directly, flushed
 * with one writev() of up to IOV_MAX entries.
 */
#ifndef AMID_OUTQUEUE_H
#define AMID_OUTQUEUE_H

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct {
	GBytes **items; /* ring; NULL while empty and never used */
	guint head; /* index of the first item */
	guint count;
	guint cap;
	gsize first_off; /* bytes of items[head] already written */
	gsize bytes; /* bytes in items not yet written */
	GString *tail; /* private bytes after the items; NULL when unused */
	gsize tail_off; /* bytes of tail already written */
} AmidOutQueue;

/** Queue a reference to @b after everything queued so far. */
void amid_outqueue_push(AmidOutQueue *q, GBytes *b);
/** The private tail to append reply text to (created on demand). */
GString *amid_outqueue_tail(AmidOutQueue *q);
/** Bytes queued and not yet written (items and tail). */
gsize amid_outqueue_pending(const AmidOutQueue *q);
/**
 * Write as much as the socket takes.  Returns bytes written (>= 0), or -1
 * with errno set (EAGAIN when the socket is full and nothing was written).
 */
gssize amid_outqueue_flush(AmidOutQueue *q, int fd);
struct AmidTls;
/** The same through a TLS connection (amid_tls_writev()). */
gssize amid_outqueue_flush_tls(AmidOutQueue *q, struct AmidTls *tls);
/** Append everything pending to @out, in order, and empty the queue. */
void amid_outqueue_drain_to(AmidOutQueue *q, GString *out);
/** Drop everything and free the buffers. */
void amid_outqueue_clear(AmidOutQueue *q);

G_END_DECLS

#endif
