/*
 * I/O workers.  One thread each, one GMainContext each, and on it a single
 * GSource watching an epoll fd that holds all the worker's sockets plus an
 * eventfd for the inbox.  Per loop pass: handle ready sockets and inbox
 * items, then flush every session that has output with one writev(), then
 * free the sessions that closed.  A 100 ms tick runs only while some
 * session has a deadline, so idle logged-in sessions cost no CPU.
 */
#include "worker.h"
#include "core.h"
#include "datastore.h"
#include "loader.h"
#include "server.h"
#include "virtual.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define TICK_MS 100

typedef enum {
	ITEM_SESSION, /* a new connection */
	ITEM_EVENT, /* an event to fan out */
	ITEM_FULLYBOOTED, /* boot finished */
	ITEM_STOP, /* close everything and quit */
	ITEM_SWEEP, /* drop a module's datastores */
	ITEM_JOB_DONE, /* a blocking action finished */
	ITEM_CONFIG, /* a new configuration: apply it to logged-in sessions */
	ITEM_LISTEN, /* start accepting on fd */
	ITEM_VOPEN, /* create a module's virtual session */
	ITEM_VINPUT, /* a request for a virtual session (data NULL: close) */
	ITEM_VLOGIN, /* log a virtual session in (data: user, category: mask) */
} ItemKind;

typedef struct {
	ItemKind kind;
	int fd;
	int category;
	GBytes *data;
	AmiModule *module;
	AmiSession *session;
	AmidConfig *config;
	AmiVirtualSession *vs;
	char peer[64];
} Item;

static GRWLock workers_lock;
static AmidWorker **workers;
static guint n_workers;
static guint next_worker;
static char inbox_marker; /* epoll data.ptr for the eventfd */

/* --------------------------------------------------------------- inbox */

static void post(AmidWorker *w, Item *it)
{
	g_mutex_lock(&w->inbox_lock);
	gboolean was_empty = w->inbox->len == 0;
	g_ptr_array_add(w->inbox, it);
	g_mutex_unlock(&w->inbox_lock);
	if (was_empty) {
		guint64 one = 1;
		if (write(w->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			g_warning("worker %u: eventfd write: %s", w->index,
				  g_strerror(errno));
	}
}

static void item_free(Item *it)
{
	if (it->data)
		g_bytes_unref(it->data);
	if (it->module)
		amid_module_unref(it->module);
	if (it->config)
		amid_config_unref(it->config);
	if (it->vs)
		ami_virtual_session_unref(it->vs);
	g_free(it);
}

static void sweep_datastores(AmidWorker *w, AmiModule *m)
{
	GHashTableIter it;
	gpointer key;
	guint n = 0;
	g_hash_table_iter_init(&it, w->sessions);
	while (g_hash_table_iter_next(&it, &key, NULL))
		n += amid_datastores_sweep_module(key, m);
	if (n)
		g_info("module %s unloaded: freed %u session datastore(s)",
		       ami_module_name(m), n);
}

static void fan_out(AmidWorker *w, int category, GBytes *data)
{
	for (guint i = 0; i < w->authed->len; i++) {
		AmiSession *s = w->authed->pdata[i];
		if (s->dead ||
		    (amid_session_effective_mask(s) & category) != category)
			continue;
		if (!amid_session_filter_allows(s, data)) {
			amid_stat_add(AMID_STAT_EVENTS_FILTERED, 1);
			continue;
		}
		amid_stat_add(AMID_STAT_EVENTS_DELIVERED, 1);
		amid_session_queue(s, data);
		if (s->waiting)
			amid_session_event_delivered(s);
	}
}

static void deliver_fullybooted(AmidWorker *w)
{
	g_autoptr(GBytes) ev = amid_core_fullybooted_event();
	for (guint i = 0; i < w->authed->len; i++) {
		AmiSession *s = w->authed->pdata[i];
		if (s->dead || s->got_fullybooted ||
		    !(amid_session_effective_mask(s) & AMI_EVENT_FLAG_SYSTEM))
			continue;
		s->got_fullybooted = TRUE;
		amid_session_queue(s, ev);
	}
}

static void close_all(AmidWorker *w)
{
	GHashTableIter it;
	gpointer key;
	g_hash_table_iter_init(&it, w->sessions);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		/* One last write without waiting (the Shutdown event). */
		amid_session_flush(key);
		amid_session_close(key, "shutdown");
	}
}

void amid_worker_adopt(AmidWorker *w, AmiSession *s)
{
	g_hash_table_add(w->sessions, s);
	amid_worker_update_epoll(w, s);
}

static AmiSession *start_session(AmidWorker *w, int fd, const char *peer,
				 AmidTls *tls)
{
	AmiSession *s = amid_session_new(w, fd, peer);
	s->tls = tls;
	g_hash_table_add(w->sessions, s);
	amid_worker_update_epoll(w, s);
	return s;
}

/* Accept what is pending on one of this worker's listening sockets. */
static void accept_connections(AmidWorker *w, int listen_fd, gboolean tls)
{
	g_autoptr(AmidConfig) c = amid_core_config();
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);
		int fd = accept4(listen_fd, (struct sockaddr *)&sa, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of fds: shed one connection, log it. */
				g_warning("accept: %s; refusing a connection",
					  g_strerror(errno));
				if (w->spare_fd >= 0) {
					close(w->spare_fd);
					int x = accept(listen_fd, NULL, NULL);
					if (x >= 0)
						close(x);
					w->spare_fd = open("/dev/null",
							   O_RDONLY | O_CLOEXEC);
				}
			}
			return;
		}
		char peer[64];
		amid_format_peer(&sa, peer, sizeof(peer));
		if (!amid_core_unauth_try_add(c->authlimit)) {
			amid_log_security("SessionLimit", NULL, peer,
					  "authlimit reached");
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (tls)
			amid_tls_accept(w, fd, peer); /* the session comes later */
		else
			start_session(w, fd, peer, NULL);
	}
}

static void drain_inbox(AmidWorker *w)
{
	guint64 v;
	if (read(w->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		g_warning("worker %u: eventfd read: %s", w->index,
			  g_strerror(errno));

	g_mutex_lock(&w->inbox_lock);
	GPtrArray *items = w->inbox;
	w->inbox = g_ptr_array_new();
	g_mutex_unlock(&w->inbox_lock);

	for (guint i = 0; i < items->len; i++) {
		Item *it = items->pdata[i];
		switch (it->kind) {
		case ITEM_SESSION:
			start_session(w, it->fd, it->peer, NULL);
			break;
		case ITEM_EVENT:
			fan_out(w, it->category, it->data);
			break;
		case ITEM_FULLYBOOTED:
			deliver_fullybooted(w);
			break;
		case ITEM_STOP:
			close_all(w);
			/* no new connections while TLS handshakes wind down */
			if (w->listen_fd >= 0)
				epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listen_fd, NULL);
			if (w->tls_listen_fd >= 0)
				epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->tls_listen_fd,
					  NULL);
			g_main_loop_quit(w->loop);
			break;
		case ITEM_SWEEP:
			sweep_datastores(w, it->module);
			break;
		case ITEM_JOB_DONE:
			amid_session_job_done(it->session, it->category);
			break;
		case ITEM_LISTEN: {
			/* category: 1 for the TLS port */
			int *slot = it->category ? &w->tls_listen_fd
						 : &w->listen_fd;
			*slot = it->fd;
			struct epoll_event ev = {.events = EPOLLIN,
						 .data.ptr = slot};
			epoll_ctl(w->epfd, EPOLL_CTL_ADD, *slot, &ev);
			break;
		}
		case ITEM_VOPEN:
			amid_virtual_start(w, it->vs);
			break;
		case ITEM_VINPUT:
			amid_virtual_input(it->vs, it->data);
			break;
		case ITEM_VLOGIN:
			amid_virtual_login(it->vs,
					   g_bytes_get_data(it->data, NULL),
					   it->category);
			break;
		case ITEM_CONFIG:
			for (guint j = 0; j < w->authed->len; j++)
				amid_session_apply_config(w->authed->pdata[j],
							  it->config);
			break;
		}
		item_free(it);
	}
	g_ptr_array_unref(items);
}

/* --------------------------------------------------------------- pass */

static void end_of_pass(AmidWorker *w)
{
	/* Flush: one writev per session with output. */
	for (guint i = 0; i < w->dirty->len; i++) {
		AmiSession *s = w->dirty->pdata[i];
		s->dirty = FALSE;
		amid_session_flush_dirty(s);
	}
	g_ptr_array_set_size(w->dirty, 0);

	for (guint i = 0; i < w->dead->len; i++) {
		AmiSession *s = w->dead->pdata[i];
		if (s->fd >= 0)
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, s->fd, NULL);
		g_hash_table_remove(w->sessions, s);
		g_hash_table_remove(w->timed, s);
		if (s->authed_index >= 0) {
			guint idx = (guint)s->authed_index;
			g_ptr_array_remove_index_fast(w->authed, idx);
			if (idx < w->authed->len)
				((AmiSession *)w->authed->pdata[idx])
					->authed_index = (int)idx;
			s->authed_index = -1;
		}
		if (s->fd >= 0) {
			close(s->fd);
			s->fd = -1;
		}
		if (s->busy)
			s->orphan = TRUE; /* freed when its job returns */
		else
			amid_session_free(s);
	}
	g_ptr_array_set_size(w->dead, 0);
}

static gboolean on_io(gint fd, GIOCondition cond, gpointer data)
{
	AmidWorker *w = data;
	struct epoll_event evs[MAX_EVENTS];
	int n = epoll_wait(w->epfd, evs, MAX_EVENTS, 0);

	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == &inbox_marker) {
			drain_inbox(w);
			continue;
		}
		if (evs[i].data.ptr == &w->listen_fd) {
			accept_connections(w, w->listen_fd, FALSE);
			continue;
		}
		if (evs[i].data.ptr == &w->tls_listen_fd) {
			accept_connections(w, w->tls_listen_fd, TRUE);
			continue;
		}
		AmiSession *s = evs[i].data.ptr;
		if (s->dead)
			continue;
		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			amid_session_on_readable(s);
		if (!s->dead && (evs[i].events & EPOLLOUT))
			amid_session_flush(s);
	}
	end_of_pass(w);
	return G_SOURCE_CONTINUE;
}

static gboolean on_tick(gpointer data)
{
	AmidWorker *w = data;
	gint64 now = g_get_monotonic_time();

	g_autoptr(GPtrArray) list = g_ptr_array_new();
	GHashTableIter iter;
	gpointer key;
	g_hash_table_iter_init(&iter, w->timed);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_ptr_array_add(list, key);
	for (guint i = 0; i < list->len; i++) {
		AmiSession *s = list->pdata[i];
		amid_session_check_deadlines(s, now);
		if (!s->dead && amid_session_next_deadline(s) == 0)
			g_hash_table_remove(w->timed, s);
	}
	end_of_pass(w);
	if (g_hash_table_size(w->timed) == 0) {
		g_clear_pointer(&w->tick, g_source_unref);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/* --------------------------------------------------------------- API */

void amid_worker_mark_dirty(AmidWorker *w, AmiSession *s)
{
	if (s->dirty)
		return;
	s->dirty = TRUE;
	g_ptr_array_add(w->dirty, s);
}

void amid_worker_update_epoll(AmidWorker *w, AmiSession *s)
{
	if (s->dead || s->fd < 0)
		return;
	guint want = 0;
	gboolean input_full =
		s->paused &&
		amid_parser_pending(&s->parser) > 2 * AMID_MAX_MESSAGE;
	if (!s->closing && !s->peer_eof && !input_full)
		want |= EPOLLIN;
	/* Only a flush that hit a full socket waits for EPOLLOUT; output
	 * queued this pass is written at its end without asking epoll. */
	if (s->stall_since && amid_outqueue_pending(&s->out))
		want |= EPOLLOUT;
	if (s->in_epoll && want == s->epoll_mask)
		return;
	struct epoll_event ev = {.events = want, .data.ptr = s};
	int op = s->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(w->epfd, op, s->fd, &ev) < 0)
		g_warning("epoll_ctl(%s): %s", s->peer, g_strerror(errno));
	s->in_epoll = TRUE;
	s->epoll_mask = want;
}

void amid_worker_set_timed(AmidWorker *w, AmiSession *s)
{
	g_hash_table_add(w->timed, s);
	if (!w->tick) {
		w->tick = g_timeout_source_new(TICK_MS);
		g_source_set_callback(w->tick, on_tick, w, NULL);
		g_source_attach(w->tick, w->ctx);
	}
}

void amid_worker_add_authed(AmidWorker *w, AmiSession *s)
{
	if (s->authed_index >= 0)
		return;
	s->authed_index = (int)w->authed->len;
	g_ptr_array_add(w->authed, s);
}

void amid_worker_bury(AmidWorker *w, AmiSession *s)
{
	g_ptr_array_add(w->dead, s);
}

void amid_worker_start_session(AmidWorker *w, int fd, const char *peer,
			       AmidTls *tls)
{
	start_session(w, fd, peer, tls);
	/* Called from a GIO callback, outside on_io: send the banner now. */
	end_of_pass(w);
}

static gpointer worker_main(gpointer data)
{
	AmidWorker *w = data;
	g_main_context_push_thread_default(w->ctx);
	g_main_loop_run(w->loop);
	amid_tls_worker_stop(w);
	end_of_pass(w);
	g_main_context_pop_thread_default(w->ctx);
	return NULL;
}

static AmidWorker *worker_new(guint index)
{
	AmidWorker *w = g_new0(AmidWorker, 1);
	w->index = index;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epfd < 0 || w->evfd < 0)
		g_error("worker %u: epoll/eventfd: %s", index, g_strerror(errno));
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &inbox_marker};
	epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev);

	w->listen_fd = -1;
	w->tls_listen_fd = -1;
	w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	g_mutex_init(&w->inbox_lock);
	w->inbox = g_ptr_array_new();
	w->sessions = g_hash_table_new(NULL, NULL);
	w->authed = g_ptr_array_new();
	w->dirty = g_ptr_array_new();
	w->dead = g_ptr_array_new();
	w->timed = g_hash_table_new(NULL, NULL);

	w->ctx = g_main_context_new();
	w->loop = g_main_loop_new(w->ctx, FALSE);
	w->io_source = g_unix_fd_source_new(w->epfd, G_IO_IN);
	g_source_set_callback(w->io_source, (GSourceFunc)(void (*)(void))on_io,
			      w, NULL);
	/* Avoids GLib's per-dispatch poll-set churn (reference/performance.md). */
	g_source_set_can_recurse(w->io_source, TRUE);
	g_source_attach(w->io_source, w->ctx);

	g_autofree char *name = g_strdup_printf("amid-io%u", index);
	w->thread = g_thread_new(name, worker_main, w);
	return w;
}

static void worker_free(AmidWorker *w)
{
	g_thread_join(w->thread);
	for (guint i = 0; i < w->inbox->len; i++) {
		Item *it = w->inbox->pdata[i];
		if (it->kind == ITEM_SESSION || it->kind == ITEM_LISTEN)
			close(it->fd);
		if (it->kind == ITEM_JOB_DONE)
			amid_session_job_done(it->session, it->category);
		item_free(it);
	}
	g_ptr_array_unref(w->inbox);
	g_mutex_clear(&w->inbox_lock);
	if (w->tick) {
		g_source_destroy(w->tick);
		g_source_unref(w->tick);
	}
	g_source_destroy(w->io_source);
	g_source_unref(w->io_source);
	g_main_loop_unref(w->loop);
	g_main_context_unref(w->ctx);
	g_hash_table_unref(w->sessions);
	g_hash_table_unref(w->timed);
	g_ptr_array_unref(w->authed);
	g_ptr_array_unref(w->dirty);
	g_ptr_array_unref(w->dead);
	if (w->listen_fd >= 0)
		close(w->listen_fd);
	if (w->tls_listen_fd >= 0)
		close(w->tls_listen_fd);
	if (w->spare_fd >= 0)
		close(w->spare_fd);
	close(w->epfd);
	close(w->evfd);
	g_free(w);
}

void amid_workers_start(guint n)
{
	g_rw_lock_writer_lock(&workers_lock);
	n_workers = n ? n : 1;
	workers = g_new0(AmidWorker *, n_workers);
	for (guint i = 0; i < n_workers; i++)
		workers[i] = worker_new(i);
	g_rw_lock_writer_unlock(&workers_lock);
}

void amid_workers_stop(void)
{
	amid_sessions_drain_jobs();
	g_rw_lock_writer_lock(&workers_lock);
	AmidWorker **ws = workers;
	guint n = n_workers;
	workers = NULL;
	n_workers = 0;
	g_rw_lock_writer_unlock(&workers_lock);

	for (guint i = 0; i < n; i++) {
		Item *it = g_new0(Item, 1);
		it->kind = ITEM_STOP;
		post(ws[i], it);
	}
	for (guint i = 0; i < n; i++)
		worker_free(ws[i]);
	g_free(ws);
}

gboolean amid_workers_open_virtual(AmiVirtualSession *vs, guint *worker_index)
{
	gboolean ok = FALSE;
	g_rw_lock_reader_lock(&workers_lock);
	if (n_workers) {
		guint i = g_atomic_int_add((gint *)&next_worker, 1) % n_workers;
		Item *it = g_new0(Item, 1);
		it->kind = ITEM_VOPEN;
		it->vs = ami_virtual_session_ref(vs);
		*worker_index = i;
		post(workers[i], it);
		ok = TRUE;
	}
	g_rw_lock_reader_unlock(&workers_lock);
	return ok;
}

gboolean amid_workers_submit_virtual(AmiVirtualSession *vs, guint worker_index,
				     GBytes *request)
{
	gboolean ok = FALSE;
	g_rw_lock_reader_lock(&workers_lock);
	if (worker_index < n_workers) {
		Item *it = g_new0(Item, 1);
		it->kind = ITEM_VINPUT;
		it->vs = ami_virtual_session_ref(vs);
		it->data = request ? g_bytes_ref(request) : NULL;
		post(workers[worker_index], it);
		ok = TRUE;
	}
	g_rw_lock_reader_unlock(&workers_lock);
	return ok;
}

gboolean amid_workers_login_virtual(AmiVirtualSession *vs, guint worker_index,
				    const char *username, int event_mask)
{
	gboolean ok = FALSE;
	g_rw_lock_reader_lock(&workers_lock);
	if (worker_index < n_workers) {
		Item *it = g_new0(Item, 1);
		it->kind = ITEM_VLOGIN;
		it->vs = ami_virtual_session_ref(vs);
		it->data = g_bytes_new(username, strlen(username) + 1);
		it->category = event_mask;
		post(workers[worker_index], it);
		ok = TRUE;
	}
	g_rw_lock_reader_unlock(&workers_lock);
	return ok;
}

guint amid_workers_count(void)
{
	g_rw_lock_reader_lock(&workers_lock);
	guint n = n_workers;
	g_rw_lock_reader_unlock(&workers_lock);
	return n;
}

void amid_workers_listen(const int *fds, guint n, gboolean tls)
{
	g_rw_lock_reader_lock(&workers_lock);
	for (guint i = 0; i < n; i++) {
		if (i >= n_workers) {
			close(fds[i]);
			continue;
		}
		Item *it = g_new0(Item, 1);
		it->kind = ITEM_LISTEN;
		it->fd = fds[i];
		it->category = tls;
		post(workers[i], it);
	}
	g_rw_lock_reader_unlock(&workers_lock);
}

void amid_workers_assign(int fd, const char *peer)
{
	Item *it = g_new0(Item, 1);
	it->kind = ITEM_SESSION;
	it->fd = fd;
	g_strlcpy(it->peer, peer, sizeof(it->peer));

	g_rw_lock_reader_lock(&workers_lock);
	if (!n_workers) {
		g_rw_lock_reader_unlock(&workers_lock);
		close(fd);
		g_free(it);
		return;
	}
	guint i = g_atomic_int_add((gint *)&next_worker, 1) % n_workers;
	post(workers[i], it);
	g_rw_lock_reader_unlock(&workers_lock);
}

void amid_workers_publish(int category, GBytes *event)
{
	g_rw_lock_reader_lock(&workers_lock);
	for (guint i = 0; i < n_workers; i++) {
		Item *it = g_new0(Item, 1);
		it->kind = ITEM_EVENT;
		it->category = category;
		it->data = g_bytes_ref(event);
		post(workers[i], it);
	}
	g_rw_lock_reader_unlock(&workers_lock);
}

void amid_workers_sweep_module(AmiModule *module)
{
	g_rw_lock_reader_lock(&workers_lock);
	for (guint i = 0; i < n_workers; i++) {
		Item *it = g_new0(Item, 1);
		it->kind = ITEM_SWEEP;
		it->module = amid_module_ref(module);
		post(workers[i], it);
	}
	g_rw_lock_reader_unlock(&workers_lock);
}

void amid_workers_apply_config(AmidConfig *c)
{
	g_rw_lock_reader_lock(&workers_lock);
	for (guint i = 0; i < n_workers; i++) {
		Item *it = g_new0(Item, 1);
		it->kind = ITEM_CONFIG;
		it->config = amid_config_ref(c);
		post(workers[i], it);
	}
	g_rw_lock_reader_unlock(&workers_lock);
}

void amid_worker_job_done(AmidWorker *w, AmiSession *s, int ret)
{
	Item *it = g_new0(Item, 1);
	it->kind = ITEM_JOB_DONE;
	it->session = s;
	it->category = ret;
	post(w, it);
}

void amid_workers_broadcast_fullybooted(void)
{
	g_rw_lock_reader_lock(&workers_lock);
	for (guint i = 0; i < n_workers; i++) {
		Item *it = g_new0(Item, 1);
		it->kind = ITEM_FULLYBOOTED;
		post(workers[i], it);
	}
	g_rw_lock_reader_unlock(&workers_lock);
}
