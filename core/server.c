/*
 * Listening sockets (IPv4 and IPv6), one per worker with SO_REUSEPORT,
 * for plain TCP and, with tlsenable, for TLS.  Accepting happens in the
 * workers (worker.c); authlimit is enforced there, before the banner (and
 * before a TLS handshake), as in Asterisk.
 */
#include "server.h"
#include "tls.h"
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gio/gio.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

static int bound_port;
static int bound_tls_port;

void amid_format_peer(const struct sockaddr_storage *sa, char *out, gsize size)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		g_snprintf(out, size, "%s:%d", host, ntohs(in->sin_port));
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

static int open_listener(const struct addrinfo *ai, GError **error,
			 const char *bindaddr)
{
	int one = 1, zero = 0;
	int fd = socket(ai->ai_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
				   sizeof(zero));
	}
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, 1024) < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "cannot listen on %s: %s", bindaddr,
			    g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * One listening socket per worker on @bindaddr:@portnum, returned (one
 * per worker, amid_workers_count()) for amid_workers_listen(), or NULL.
 * @option names the setting in errors; the port bound is stored in
 * *@bound.
 */
/*
 * SO_REUSEPORT would let us share a port with another process of the same
 * user (a second amid): probe with a plain socket first, which fails with
 * EADDRINUSE when anything listens there already.
 */
static gboolean port_free(const struct addrinfo *ai, const char *where,
			  GError **error)
{
	int one = 1, zero = 0;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return TRUE; /* the real attempt reports the problem */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	gboolean ok = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		      errno != EADDRINUSE;
	if (!ok)
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "cannot listen on %s: %s", where,
			    g_strerror(EADDRINUSE));
	close(fd);
	return ok;
}

static int *listen_all(const char *bindaddr, int portnum, const char *option,
		       gboolean tls, int *bound, GError **error)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char port[16];
	g_snprintf(port, sizeof(port), "%d", portnum);
	const char *addr = bindaddr && *bindaddr ? bindaddr : NULL;
	int rc = getaddrinfo(addr, port, &hints, &res);
	if (rc) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "%s '%s': %s", option, bindaddr, gai_strerror(rc));
		return NULL;
	}
	g_autofree char *where = g_strdup_printf("%s port %d", bindaddr,
						 portnum);
	if (portnum != 0 && !port_free(res, where, error)) {
		freeaddrinfo(res);
		return NULL;
	}
	guint n = amid_workers_count();
	int *fds = g_new(int, n);
	guint opened = 0;
	for (; opened < n; opened++) {
		fds[opened] = open_listener(res, error, where);
		if (fds[opened] < 0)
			break;
		if (opened == 0) {
			/* port 0: the others join the port the first got */
			struct sockaddr_storage sa;
			socklen_t len = sizeof(sa);
			getsockname(fds[0], (struct sockaddr *)&sa, &len);
			*bound = sa.ss_family == AF_INET
					     ? ntohs(((struct sockaddr_in *)&sa)->sin_port)
					     : ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
			if (res->ai_family == AF_INET)
				((struct sockaddr_in *)res->ai_addr)->sin_port =
					htons((guint16)*bound);
			else
				((struct sockaddr_in6 *)res->ai_addr)->sin6_port =
					htons((guint16)*bound);
			char shown[64];
			amid_format_peer(&sa, shown, sizeof(shown));
			g_message("Manager %slistening on %s", tls ? "TLS " : "",
				  shown);
		}
	}
	freeaddrinfo(res);
	if (opened < n) {
		for (guint i = 0; i < opened; i++)
			close(fds[i]);
		g_free(fds);
		return NULL;
	}
	return fds;
}

gboolean amid_server_start(const AmidConfig *c, GError **error)
{
	/* Certificate and every socket first: whatever fails stops start-up
	 * before any port accepts. */
	if (c->tlsenable && !amid_tls_init(c, error))
		return FALSE;
	guint n = amid_workers_count();
	g_autofree int *plain = listen_all(c->bindaddr, c->port, "bindaddr",
					   FALSE, &bound_port, error);
	if (!plain)
		return FALSE;
	g_autofree int *tls = NULL;
	if (c->tlsenable) {
		tls = listen_all(c->tlsbindaddr, c->tlsport, "tlsbindaddr",
				 TRUE, &bound_tls_port, error);
		if (!tls) {
			for (guint i = 0; i < n; i++)
				close(plain[i]);
			return FALSE;
		}
	}
	amid_workers_listen(plain, n, FALSE);
	if (tls)
		amid_workers_listen(tls, n, TRUE);
	return TRUE;
}

int amid_server_port(void)
{
	return bound_port;
}

int amid_server_tls_port(void)
{
	return bound_tls_port;
}
