/*
 * Listening sockets.  Each I/O worker gets its own socket bound to the
 * same address with SO_REUSEPORT, so the kernel spreads connections over
 * the workers and a new session never crosses threads.
 */
#ifndef AMID_SERVER_H
#define AMID_SERVER_H

#include <glib.h>
#include <sys/socket.h>
#include "config.h"

G_BEGIN_DECLS

/**
 * Bind and listen as @c says, one socket per worker, and hand them to the
 * workers (amid_workers_start() first).  Errors name the address.
 */
gboolean amid_server_start(const AmidConfig *c, GError **error);
/** The port actually bound (useful with port = 0). */
int amid_server_port(void);
/** The TLS port actually bound, 0 when TLS is off. */
int amid_server_tls_port(void);
/** "1.2.3.4:5", "[::1]:5"; IPv4-mapped IPv6 shown as IPv4. */
void amid_format_peer(const struct sockaddr_storage *sa, char *out,
		      gsize size);

G_END_DECLS

#endif
