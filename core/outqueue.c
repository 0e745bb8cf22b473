/* Per-session output: shared GBytes plus a private tail, drained by writev(). */
#include "outqueue.h"
#include "tls.h"

#include <errno.h>
#include <limits.h>
#include <sys/uio.h>

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

static void ring_push(AmidOutQueue *q, GBytes *b)
{
	if (q->count == q->cap) {
		guint ncap = q->cap ? q->cap * 2 : 8;
		GBytes **n = g_new(GBytes *, ncap);
		for (guint i = 0; i < q->count; i++)
			n[i] = q->items[(q->head + i) % q->cap];
		g_free(q->items);
		q->items = n;
		q->head = 0;
		q->cap = ncap;
	}
	q->items[(q->head + q->count) % q->cap] = b;
	q->count++;
	q->bytes += g_bytes_get_size(b);
}

/* Turn the unwritten part of the tail into an item, keeping the order. */
static void seal_tail(AmidOutQueue *q)
{
	if (!q->tail || q->tail->len == q->tail_off)
		return;
	if (q->tail_off)
		g_string_erase(q->tail, 0, (gssize)q->tail_off);
	q->tail_off = 0;
	ring_push(q, g_string_free_to_bytes(q->tail));
	q->tail = NULL;
}

void amid_outqueue_push(AmidOutQueue *q, GBytes *b)
{
	if (g_bytes_get_size(b) == 0)
		return;
	seal_tail(q);
	ring_push(q, g_bytes_ref(b));
}

GString *amid_outqueue_tail(AmidOutQueue *q)
{
	if (!q->tail)
		q->tail = g_string_sized_new(256);
	return q->tail;
}

gsize amid_outqueue_pending(const AmidOutQueue *q)
{
	return q->bytes + (q->tail ? q->tail->len - q->tail_off : 0);
}

/* Account for @w written bytes: items first, then the tail. */
static void consume(AmidOutQueue *q, gsize w)
{
	while (w && q->count) {
		GBytes *b = q->items[q->head];
		gsize rest = g_bytes_get_size(b) - q->first_off;
		if (w < rest) {
			q->first_off += w;
			q->bytes -= w;
			return;
		}
		w -= rest;
		q->bytes -= rest;
		g_bytes_unref(b);
		q->first_off = 0;
		q->head = (q->head + 1) % q->cap;
		q->count--;
	}
	if (w && q->tail) {
		q->tail_off += w;
		if (q->tail_off == q->tail->len) {
			q->tail_off = 0;
			if (q->tail->allocated_len > 65536) {
				g_string_free(q->tail, TRUE);
				q->tail = NULL;
			} else {
				g_string_truncate(q->tail, 0);
			}
		}
	}
}

/* Inlined twice: with tls NULL (plain TCP, no branch left) and for TLS. */
static inline __attribute__((always_inline)) gssize
flush_to(AmidOutQueue *q, int fd, AmidTls *tls)
{
	gssize total = 0;
	while (amid_outqueue_pending(q)) {
		struct iovec iov[IOV_MAX];
		int n = 0;
		gsize want = 0;
		for (guint i = 0; i < q->count && n < IOV_MAX - 1; i++, n++) {
			GBytes *b = q->items[(q->head + i) % q->cap];
			gsize size;
			const guint8 *data = g_bytes_get_data(b, &size);
			gsize off = i == 0 ? q->first_off : 0;
			iov[n].iov_base = (void *)(data + off);
			iov[n].iov_len = size - off;
			want += size - off;
		}
		if (q->tail && q->tail->len > q->tail_off &&
		    (guint)n == q->count) {
			iov[n].iov_base = q->tail->str + q->tail_off;
			iov[n].iov_len = q->tail->len - q->tail_off;
			want += iov[n].iov_len;
			n++;
		}
		ssize_t w = tls ? amid_tls_writev(tls, iov, n)
				: writev(fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return total > 0 ? total : -1;
		}
		total += w;
		consume(q, (gsize)w);
		if ((gsize)w < want)
			break; /* short write: the socket is full */
	}
	if (q->count == 0 && q->cap > 64) {
		/* give back the memory a burst made us take */
		g_free(q->items);
		q->items = NULL;
		q->cap = 0;
		q->head = 0;
	}
	return total;
}

gssize amid_outqueue_flush(AmidOutQueue *q, int fd)
{
	return flush_to(q, fd, NULL);
}

gssize amid_outqueue_flush_tls(AmidOutQueue *q, AmidTls *tls)
{
	return flush_to(q, -1, tls);
}

void amid_outqueue_drain_to(AmidOutQueue *q, GString *out)
{
	for (guint i = 0; i < q->count; i++) {
		gsize size;
		const char *data =
			g_bytes_get_data(q->items[(q->head + i) % q->cap], &size);
		gsize off = i == 0 ? q->first_off : 0;
		g_string_append_len(out, data + off, (gssize)(size - off));
	}
	if (q->tail && q->tail->len > q->tail_off)
		g_string_append_len(out, q->tail->str + q->tail_off,
				    (gssize)(q->tail->len - q->tail_off));
	amid_outqueue_clear(q);
}

void amid_outqueue_clear(AmidOutQueue *q)
{
	for (guint i = 0; i < q->count; i++)
		g_bytes_unref(q->items[(q->head + i) % q->cap]);
	g_free(q->items);
	if (q->tail)
		g_string_free(q->tail, TRUE);
	*q = (AmidOutQueue){0};
}
