/* The TCP listener: accepts on the main thread, hands sockets to workers. */
#ifndef AMID_SERVER_H
#define AMID_SERVER_H

#include <glib.h>
#include "config.h"

G_BEGIN_DECLS

/** Bind and listen as @c says; errors name the address. */
gboolean amid_server_start(const AmidConfig *c, GError **error);
void amid_server_stop(void);
/** The port actually bound (useful with port = 0). */
int amid_server_port(void);

G_END_DECLS

#endif
