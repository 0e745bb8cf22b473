/* Per-session output ring of shared GBytes, drained by writev(). */
#include "outqueue.h"

#include <errno.h>
#include <limits.h>
#include <sys/uio.h>

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

void amid_outqueue_push(AmidOutQueue *q, GBytes *b)
{
	gsize size = g_bytes_get_size(b);
	if (size == 0)
		return;
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
	q->items[(q->head + q->count) % q->cap] = g_bytes_ref(b);
	q->count++;
	q->bytes += size;
}

gssize amid_outqueue_flush(AmidOutQueue *q, int fd)
{
	gssize total = 0;
	while (q->count) {
		struct iovec iov[IOV_MAX];
		int n = 0;
		gsize want = 0;
		for (guint i = 0; i < q->count && n < IOV_MAX; i++, n++) {
			GBytes *b = q->items[(q->head + i) % q->cap];
			gsize size;
			const guint8 *data = g_bytes_get_data(b, &size);
			gsize off = i == 0 ? q->first_off : 0;
			iov[n].iov_base = (void *)(data + off);
			iov[n].iov_len = size - off;
			want += size - off;
		}
		ssize_t w = writev(fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return total > 0 ? total : -1;
		}
		total += w;
		q->bytes -= (gsize)w;
		gsize left = (gsize)w;
		while (left && q->count) {
			GBytes *b = q->items[q->head];
			gsize rest = g_bytes_get_size(b) - q->first_off;
			if (left < rest) {
				q->first_off += left;
				break;
			}
			left -= rest;
			g_bytes_unref(b);
			q->first_off = 0;
			q->head = (q->head + 1) % q->cap;
			q->count--;
		}
		if ((gsize)w < want)
			break; /* short write: the socket is full */
	}
	if (q->count == 0 && q->cap > 64) {
		/* give back the memory a burst made us take */
		amid_outqueue_clear(q);
	}
	return total;
}

void amid_outqueue_clear(AmidOutQueue *q)
{
	for (guint i = 0; i < q->count; i++)
		g_bytes_unref(q->items[(q->head + i) % q->cap]);
	g_free(q->items);
	*q = (AmidOutQueue){0};
}
