/*
 * Sessions opened by modules (amid/session.h): a TCP-less session on an
 * I/O worker whose requests arrive as text and whose output goes to a
 * sink.  The handle is shared between the module's thread and the worker;
 * the session itself is only touched on its worker.
 */
#include "virtual.h"
#include "core.h"
#include "worker.h"

#include "config.h"

#include <errno.h>
#include <string.h>

struct AmiVirtualSession {
	gint refcount;
	GMutex lock;
	gboolean closed; /* under lock */
	AmiSession *s; /* worker side: set when created, NULL when closed */
	guint worker; /* index of the worker that owns the session */
	AmiSessionSink sink;
	void *user_data;
	char peer[64];
};

AMI_API AmiVirtualSession *ami_virtual_session_ref(AmiVirtualSession *vs)
{
	g_atomic_int_inc(&vs->refcount);
	return vs;
}

AMI_API void ami_virtual_session_unref(AmiVirtualSession *vs)
{
	if (!vs || !g_atomic_int_dec_and_test(&vs->refcount))
		return;
	g_mutex_clear(&vs->lock);
	g_free(vs);
}

AMI_API gboolean ami_virtual_session_is_closed(AmiVirtualSession *vs)
{
	g_mutex_lock(&vs->lock);
	gboolean closed = vs->closed;
	g_mutex_unlock(&vs->lock);
	return closed;
}

AMI_API AmiVirtualSession *ami_virtual_session_open(const char *peer,
						     const AmiSessionSink *sink,
						     void *user_data)
{
	if (!sink || !sink->output || !sink->closed)
		return NULL;
	AmiVirtualSession *vs = g_new0(AmiVirtualSession, 1);
	vs->refcount = 1;
	g_mutex_init(&vs->lock);
	vs->sink = *sink;
	vs->user_data = user_data;
	g_strlcpy(vs->peer, peer ? peer : "virtual", sizeof(vs->peer));
	if (!amid_workers_open_virtual(vs, &vs->worker)) {
		ami_virtual_session_unref(vs);
		return NULL;
	}
	return vs;
}

AMI_API int ami_virtual_session_submit(AmiVirtualSession *vs,
				       const char *request)
{
	if (!vs || !request)
		return -EINVAL;
	if (ami_virtual_session_is_closed(vs))
		return -EPIPE;
	/* Make sure the message ends with its blank line. */
	gsize len = strlen(request);
	GString *text = g_string_new_len(request, (gssize)len);
	while (text->len && (text->str[text->len - 1] == '\n' ||
			     text->str[text->len - 1] == '\r'))
		g_string_truncate(text, text->len - 1);
	g_string_append(text, "\r\n\r\n");
	gsize n = text->len;
	g_autoptr(GBytes) b = g_bytes_new_take(g_string_free(text, FALSE), n);
	return amid_workers_submit_virtual(vs, vs->worker, b) ? 0 : -EPIPE;
}

AMI_API int ami_virtual_session_login(AmiVirtualSession *vs,
				      const char *username, int event_mask)
{
	if (!vs || !username)
		return -EINVAL;
	if (ami_virtual_session_is_closed(vs))
		return -EPIPE;
	g_autoptr(AmidConfig) c = amid_core_config();
	const AmidUser *u = c && *username ? amid_config_find_user(c, username)
					   : NULL;
	if (!u)
		return -ENOENT;
	char addr[64];
	amid_peer_address(vs->peer, addr, sizeof(addr));
	if (!amid_user_acl_allows(u, addr)) {
		amid_log_security("FailedACL", username, vs->peer,
				  "rejected by ACL");
		return -EACCES;
	}
	return amid_workers_login_virtual(vs, vs->worker, username, event_mask)
		       ? 0
		       : -EPIPE;
}

AMI_API void ami_virtual_session_close(AmiVirtualSession *vs)
{
	if (vs && !ami_virtual_session_is_closed(vs))
		amid_workers_submit_virtual(vs, vs->worker, NULL);
}

/* ------------------------------------------------- worker side */

void amid_virtual_start(AmidWorker *w, AmiVirtualSession *vs)
{
	amid_core_unauth_try_add(G_MAXINT); /* balanced when it is freed */
	AmiSession *s = amid_session_new(w, -1, vs->peer);
	s->virt = ami_virtual_session_ref(vs);
	vs->s = s;
	amid_worker_adopt(w, s);
}

void amid_virtual_input(AmiVirtualSession *vs, GBytes *request)
{
	AmiSession *s = vs->s;
	if (!s || s->dead)
		return;
	if (!request) {
		amid_session_close(s, "closed by its module");
		return;
	}
	gsize len;
	const char *data = g_bytes_get_data(request, &len);
	amid_session_feed(s, data, len);
}

void amid_virtual_login(AmiVirtualSession *vs, const char *username,
			int event_mask)
{
	AmiSession *s = vs->s;
	if (!s || s->dead || s->authenticated)
		return;
	g_autoptr(AmidConfig) c = amid_core_config();
	const AmidUser *u = amid_config_find_user(c, username);
	if (!u || !amid_user_acl_allows(u, s->peer_addr))
		return; /* removed or changed by a reload meanwhile */
	amid_session_login_ok(s, c, u, username, event_mask);
	amid_worker_mark_dirty(s->worker, s);
}

void amid_virtual_output(AmiSession *s)
{
	AmidOutQueue *q = &s->out;
	gsize n = amid_outqueue_pending(q);
	if (!n)
		return;
	GString *all = g_string_sized_new(n);
	amid_outqueue_drain_to(q, all);
	gsize len = all->len;
	amid_stat_add(AMID_STAT_BYTES_OUT, (gint64)len);
	g_autoptr(GBytes) b = g_bytes_new_take(g_string_free(all, FALSE), len);
	s->virt->sink.output(s->virt, b, s->virt->user_data);
}

void amid_virtual_closed(AmiSession *s)
{
	AmiVirtualSession *vs = s->virt;
	amid_virtual_output(s); /* what was queued still reaches the module */
	g_mutex_lock(&vs->lock);
	vs->closed = TRUE;
	g_mutex_unlock(&vs->lock);
	vs->s = NULL;
	vs->sink.closed(vs, vs->user_data);
}
