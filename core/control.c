/*
 * The control socket (see control.h for the protocol and doc/cli.md for
 * the operator's view).  Everything here runs on the main thread: one
 * GSource for the listening socket, one per connection, plain nonblocking
 * read/write.  Commands run synchronously (they are short; `module
 * unload` waits at most 200 ms), one line at a time per connection: the
 * next line is read only once the previous answer is written.
 */
#include "control.h"
#include "cli.h"
#include "core.h"

#include <gio/gio.h>
#include <glib-unix.h>

#include <amid/manager.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59 /* Linux 4.13 */
#endif

/* Connections served at once; more are refused with a message. */
#define MAX_CONNECTIONS 32
#define READ_CHUNK 4096

typedef struct Conn Conn;

typedef struct {
	GSource source;
	gpointer tag;
	Conn *conn;
} ConnSource;

struct Conn {
	int fd;
	ConnSource *src;
	GIOCondition cond; /* what the source waits for now */
	GString *in;
	GString *out;
	gsize out_off; /* bytes of out already written */
	gboolean eof; /* the client shut down its side */
	gboolean closing; /* close once out is written */
	gboolean dead; /* close now */
	char who[64]; /* "uid 0 pid 123", for the log */
};

static GMutex path_lock;
static char *listen_path; /* under path_lock */
static int listen_fd = -1;
static guint listen_watch;
static dev_t sock_dev;
static ino_t sock_ino;
static gid_t sock_gid;
static GList *conns; /* Conn* */

/* ------------------------------------------------------------ frames */

static void append_frame(GString *buf, int status, const char *text,
			 gsize len)
{
	g_string_append_printf(buf, "%d %zu\n", status, len);
	g_string_append_len(buf, text, (gssize)len);
}

/* One frame written straight to a fresh socket, then forgotten. */
static void send_frame_now(int fd, int status, const char *text)
{
	g_autoptr(GString) buf = g_string_new(NULL);
	append_frame(buf, status, text, strlen(text));
	ssize_t w = write(fd, buf->str, buf->len);
	(void)w; /* best effort: a refused client may be gone already */
}

/* ------------------------------------------------------------ connections */

static void conn_close(Conn *c)
{
	conns = g_list_remove(conns, c);
	if (c->src) {
		g_source_destroy(&c->src->source);
		g_source_unref(&c->src->source);
	}
	close(c->fd);
	g_string_free(c->in, TRUE);
	g_string_free(c->out, TRUE);
	g_debug("control connection of %s closed", c->who);
	g_free(c);
}

static gboolean output_pending(const Conn *c)
{
	return c->out_off < c->out->len;
}

static void flush_output(Conn *c)
{
	while (output_pending(c)) {
		ssize_t w = write(c->fd, c->out->str + c->out_off,
				  c->out->len - c->out_off);
		if (w > 0) {
			c->out_off += (gsize)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		c->dead = TRUE; /* EPIPE and the like */
		return;
	}
	g_string_truncate(c->out, 0);
	c->out_off = 0;
}

static void read_input(Conn *c)
{
	char buf[READ_CHUNK];
	while (!c->eof && c->in->len <= AMID_CONTROL_MAX_LINE) {
		ssize_t n = read(c->fd, buf, sizeof(buf));
		if (n > 0) {
			g_string_append_len(c->in, buf, n);
			continue;
		}
		if (n == 0) {
			c->eof = TRUE;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			c->dead = TRUE;
		break;
	}
}

static void run_line(Conn *c, const char *line)
{
	int argc;
	g_auto(GStrv) words = amid_cli_split(line, &argc);
	if (argc == 0) {
		append_frame(c->out, AMID_CONTROL_OK, "", 0);
		return;
	}
	g_autoptr(GString) text = g_string_new(NULL);
	int r = amid_cli_run(line, text);
	int status = r == 0		? AMID_CONTROL_OK
		     : r == -ENOENT ? AMID_CONTROL_NOCMD
		     : r == -EINVAL ? AMID_CONTROL_USAGE
				    : AMID_CONTROL_FAILED;
	g_debug("control %s: '%s' -> %d", c->who, line, status);
	append_frame(c->out, status, text->str, text->len);
}

/* Answer the complete lines received, one at a time as output drains. */
static void process_input(Conn *c)
{
	while (!c->dead && !c->closing && !output_pending(c)) {
		char *nl = memchr(c->in->str, '\n', c->in->len);
		gsize len = nl ? (gsize)(nl - c->in->str) : c->in->len;
		if (len >= AMID_CONTROL_MAX_LINE) {
			g_autofree char *msg = g_strdup_printf(
				"Command line too long (at most %d bytes)\n",
				AMID_CONTROL_MAX_LINE - 1);
			append_frame(c->out, AMID_CONTROL_TOOLONG, msg,
				     strlen(msg));
			c->closing = TRUE;
			break;
		}
		if (!nl && !(c->eof && c->in->len))
			break; /* wait for the rest of the line */
		g_autofree char *line = g_strndup(c->in->str, len);
		g_string_erase(c->in, 0, nl ? (gssize)len + 1 : (gssize)len);
		if (len && line[len - 1] == '\r')
			line[len - 1] = '\0';
		run_line(c, line);
		flush_output(c); /* at once: 'core stop' ends the loop */
	}
}

/* Returns FALSE once the connection is closed (and freed). */
static gboolean conn_ready(Conn *c, GIOCondition cond)
{
	if (cond & G_IO_ERR)
		c->dead = TRUE;
	if (!c->dead && (cond & G_IO_OUT))
		flush_output(c);
	if (!c->dead && (cond & (G_IO_IN | G_IO_HUP)))
		read_input(c);
	process_input(c);
	if (!c->dead && output_pending(c))
		flush_output(c);

	gboolean finished = !output_pending(c) &&
			    (c->closing || (c->eof && c->in->len == 0));
	if (c->dead || finished) {
		conn_close(c);
		return FALSE;
	}
	GIOCondition want = 0;
	if (output_pending(c))
		want |= G_IO_OUT;
	else if (!c->eof)
		want |= G_IO_IN;
	if (want != c->cond) {
		c->cond = want;
		g_source_modify_unix_fd(&c->src->source, c->src->tag, want);
	}
	return TRUE;
}

static gboolean conn_dispatch(GSource *source, GSourceFunc cb,
			      gpointer data)
{
	ConnSource *cs = (ConnSource *)source;
	GIOCondition cond = g_source_query_unix_fd(source, cs->tag);
	return conn_ready(cs->conn, cond) ? G_SOURCE_CONTINUE
					  : G_SOURCE_REMOVE;
}

static GSourceFuncs conn_funcs = {
	.dispatch = conn_dispatch,
};

/* ------------------------------------------------------------ accepting */

static gboolean peer_in_group(int fd, gid_t gid)
{
	gid_t groups[64];
	socklen_t len = sizeof(groups);
	g_autofree gid_t *many = NULL;
	gid_t *list = groups;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0) {
		if (errno != ERANGE || len == 0)
			return FALSE;
		many = g_malloc(len);
		list = many;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, many, &len) != 0)
			return FALSE;
	}
	for (gsize i = 0; i < len / sizeof(gid_t); i++)
		if (list[i] == gid)
			return TRUE;
	return FALSE;
}

static gboolean peer_allowed(int fd, const struct ucred *cr)
{
	return cr->uid == 0 || cr->uid == geteuid() || cr->gid == sock_gid ||
	       peer_in_group(fd, sock_gid);
}

static void accept_one(int fd)
{
	struct ucred cr = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 ||
	    !peer_allowed(fd, &cr)) {
		g_autofree char *peer = g_strdup_printf("uid=%d", (int)cr.uid);
		g_autofree char *why = g_strdup_printf(
			"control socket: uid %d gid %d is neither root nor "
			"the daemon user nor in group %u",
			(int)cr.uid, (int)cr.gid, (unsigned)sock_gid);
		amid_log_security("ControlRefused", NULL, peer, why);
		send_frame_now(fd, AMID_CONTROL_DENIED,
			       "Permission denied: only root, amid's user and "
			       "members of the control socket's group may use "
			       "it\n");
		close(fd);
		return;
	}
	if (g_list_length(conns) >= MAX_CONNECTIONS) {
		g_warning("Control socket: %d connections open, refusing "
			  "another one (uid %d)",
			  MAX_CONNECTIONS, (int)cr.uid);
		send_frame_now(fd, AMID_CONTROL_FAILED,
			       "Too many control connections\n");
		close(fd);
		return;
	}

	Conn *c = g_new0(Conn, 1);
	c->fd = fd;
	c->in = g_string_new(NULL);
	c->out = g_string_new(NULL);
	g_snprintf(c->who, sizeof(c->who), "uid %d pid %d", (int)cr.uid,
		   (int)cr.pid);
	g_autofree char *hello = g_strdup_printf(
		"amid %s %ld %s\n", ami_core_version(), (long)getpid(),
		g_get_host_name());
	append_frame(c->out, AMID_CONTROL_OK, hello, strlen(hello));
	c->src = (ConnSource *)g_source_new(&conn_funcs, sizeof(ConnSource));
	c->src->conn = c;
	c->cond = G_IO_OUT;
	c->src->tag = g_source_add_unix_fd(&c->src->source, fd, c->cond);
	g_source_set_name(&c->src->source, "amid control connection");
	g_source_attach(&c->src->source, NULL);
	conns = g_list_prepend(conns, c);
	g_debug("control connection from %s", c->who);
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer unused)
{
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd >= 0) {
			accept_one(cfd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			g_warning("Control socket: accept: %s",
				  g_strerror(errno));
		break;
	}
	return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------ life cycle */

/* Does a process accept connections on the socket at @path? */
static gboolean socket_answers(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return FALSE;
	gboolean answers =
		connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return answers;
}

gboolean amid_control_start(const AmidConfig *c, GError **error)
{
	const char *path = c->controlsocket ? c->controlsocket
					    : AMID_DEFAULT_CONTROLSOCKET;
	if (!*path) {
		g_message("Control socket disabled (general.controlsocket is "
			  "empty)");
		return TRUE;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
			    "control socket %s: path longer than %zu bytes",
			    path, sizeof(sa.sun_path) - 1);
		return FALSE;
	}
	g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));

	g_autofree char *dir = g_path_get_dirname(path);
	if (!g_file_test(dir, G_FILE_TEST_IS_DIR) &&
	    g_mkdir_with_parents(dir, 0750) != 0) {
		int e = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
			    "control socket %s: cannot create directory %s: "
			    "%s",
			    path, dir, g_strerror(e));
		return FALSE;
	}
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
				    "control socket %s: the file exists and is "
				    "not a socket; not touching it",
				    path);
			return FALSE;
		}
		if (socket_answers(&sa)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
				    "control socket %s: another process "
				    "(another amid?) answers on it",
				    path);
			return FALSE;
		}
		unlink(path); /* stale, from a daemon that died */
	}

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	/* Until chmod the file has 0777 & ~umask: without write permission
	 * for others under the usual umasks, nobody else can connect. */
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0660) != 0 || listen(fd, 16) != 0 ||
	    stat(path, &st) != 0) {
		int e = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
			    "control socket %s: %s", path, g_strerror(e));
		if (fd >= 0) {
			close(fd);
			if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
				unlink(path);
		}
		return FALSE;
	}
	sock_dev = st.st_dev;
	sock_ino = st.st_ino;
	sock_gid = st.st_gid;
	listen_fd = fd;
	listen_watch = g_unix_fd_add(fd, G_IO_IN, on_accept, NULL);
	g_mutex_lock(&path_lock);
	g_free(listen_path);
	listen_path = g_strdup(path);
	g_mutex_unlock(&path_lock);
	g_message("Control socket listening on %s (amictl -s %s)", path, path);
	return TRUE;
}

void amid_control_stop(void)
{
	while (conns) {
		Conn *c = conns->data;
		flush_output(c); /* best effort: a 'core stop' answer */
		conn_close(c);
	}
	if (listen_watch) {
		g_source_remove(listen_watch);
		listen_watch = 0;
	}
	if (listen_fd >= 0) {
		close(listen_fd);
		listen_fd = -1;
	}
	g_mutex_lock(&path_lock);
	char *path = listen_path;
	listen_path = NULL;
	g_mutex_unlock(&path_lock);
	struct stat st;
	/* Remove it only while it is still ours (not a new daemon's). */
	if (path && stat(path, &st) == 0 && st.st_dev == sock_dev &&
	    st.st_ino == sock_ino)
		unlink(path);
	g_free(path);
}

char *amid_control_path(void)
{
	g_mutex_lock(&path_lock);
	char *p = g_strdup(listen_path);
	g_mutex_unlock(&path_lock);
	return p;
}
