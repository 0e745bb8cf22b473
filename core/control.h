/*
 * The control socket: a Unix stream socket on which amictl (or any local
 * program) runs CLI commands.  Served on the main thread's GMainContext.
 *
 * Protocol (doc/cli.md):
 *   - on connecting, the server sends one frame: the greeting
 *     "amid <version> <pid> <hostname>\n" with status 0, or a refusal
 *     with status 4 after which it closes;
 *   - the client sends command lines ended by LF (a CR before it is
 *     dropped; at most AMID_CONTROL_MAX_LINE bytes);
 *   - the server answers every line, in order, with one frame:
 *     "<status> <length>\n" followed by exactly <length> bytes of output;
 *   - when the client shuts down its side, the server finishes writing
 *     and closes.
 * Status: 0 success, 1 the command failed, 2 no such command, 3 bad
 * arguments (usage), 4 refused, 5 line too long (the server then closes).
 *
 * Who may connect: the socket file is mode 0660 in a directory made 0750
 * when amid creates it; on every connection the peer's credentials
 * (SO_PEERCRED) must also show uid 0, the daemon's uid, or the socket
 * file's group as primary or supplementary group.
 */
#ifndef AMID_CONTROL_H
#define AMID_CONTROL_H

#include <glib.h>

#include "config.h"

G_BEGIN_DECLS

/**
 * Path used when general.controlsocket is not set: /run/amid is the
 * systemd unit's RuntimeDirectory, whatever the installation prefix.
 */
#define AMID_DEFAULT_CONTROLSOCKET "/run/amid/amid.ctl"
/** Longest command line accepted, terminator included. */
#define AMID_CONTROL_MAX_LINE 4096

/** Frame status codes. */
enum {
	AMID_CONTROL_OK = 0,
	AMID_CONTROL_FAILED = 1,
	AMID_CONTROL_NOCMD = 2,
	AMID_CONTROL_USAGE = 3,
	AMID_CONTROL_DENIED = 4,
	AMID_CONTROL_TOOLONG = 5,
};

/**
 * Create and listen on the socket @c names (general.controlsocket, or the
 * default); "" disables it.  A stale socket file is replaced; one another
 * process still answers on is left alone.  Returns FALSE with @error when
 * the socket cannot be made (the daemon goes on without it).
 * Main thread only.
 */
gboolean amid_control_start(const AmidConfig *c, GError **error);
/** Close every connection and the socket, and remove the file. */
void amid_control_stop(void);
/** The path listened on, or NULL (transfer full).  Thread safe. */
char *amid_control_path(void);

G_END_DECLS

#endif
