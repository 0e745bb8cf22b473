/*
 * Listening sockets (IPv4 and IPv6).  Accepting runs on the main thread;
 * authlimit is enforced here, before the banner, as in Asterisk.
 */
#include "server.h"
#include "core.h"
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int listen_fd = -1;
static guint listen_watch;
static int spare_fd = -1; /* released to accept-and-close under EMFILE */
static int bound_port;

static void format_peer(const struct sockaddr_storage *sa, char *out,
			gsize size)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		g_snprintf(out, size, "%s:%d", host, port);
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host,
				  sizeof(host));
			g_snprintf(out, size, "%s:%d", host,
				   ntohs(in6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
			g_snprintf(out, size, "[%s]:%d", host,
				   ntohs(in6->sin6_port));
		}
	} else {
		g_strlcpy(out, "unknown", size);
	}
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer data)
{
	g_autoptr(AmidConfig) c = amid_core_config();
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);
		int cfd = accept4(fd, (struct sockaddr *)&sa, &len,
				  SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of fds: shed one connection, log it. */
				g_warning("accept: %s; refusing a connection",
					  g_strerror(errno));
				if (spare_fd >= 0) {
					close(spare_fd);
					int x = accept(fd, NULL, NULL);
					if (x >= 0)
						close(x);
					spare_fd = open("/dev/null",
							O_RDONLY | O_CLOEXEC);
				}
			}
			break;
		}
		char peer[64];
		format_peer(&sa, peer, sizeof(peer));
		if (!amid_core_unauth_try_add(c->authlimit)) {
			amid_log_security("SessionLimit", NULL, peer,
					  "authlimit reached");
			close(cfd);
			continue;
		}
		int one = 1;
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		amid_workers_assign(cfd, peer);
	}
	return G_SOURCE_CONTINUE;
}

gboolean amid_server_start(const AmidConfig *c, GError **error)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char port[16];
	g_snprintf(port, sizeof(port), "%d", c->port);
	const char *addr = c->bindaddr && *c->bindaddr ? c->bindaddr : NULL;
	int rc = getaddrinfo(addr, port, &hints, &res);
	if (rc) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "bindaddr '%s': %s", c->bindaddr, gai_strerror(rc));
		return FALSE;
	}

	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, zero = 0;
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (res->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
				   sizeof(zero));
	}
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(fd, 1024) < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "cannot listen on %s port %d: %s", c->bindaddr,
			    c->port, g_strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return FALSE;
	}
	freeaddrinfo(res);

	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	char where[64];
	format_peer(&sa, where, sizeof(where));
	bound_port = sa.ss_family == AF_INET
			     ? ntohs(((struct sockaddr_in *)&sa)->sin_port)
			     : ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);

	listen_fd = fd;
	spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	listen_watch = g_unix_fd_add(fd, G_IO_IN, on_accept, NULL);
	g_message("Manager listening on %s", where);
	return TRUE;
}

void amid_server_stop(void)
{
	if (listen_watch)
		g_source_remove(listen_watch);
	listen_watch = 0;
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
	if (spare_fd >= 0)
		close(spare_fd);
	spare_fd = -1;
}

int amid_server_port(void)
{
	return bound_port;
}
