/*
 * The registry of logged-in sessions, for the operator CLI
 * (`manager show connected`, `manager show eventq`).
 *
 * A session's worker adds it at login and removes it at close; the CLI,
 * on any thread, reads copies under the registry's mutex.  The registry
 * never points back into a session, so no thread but the session's own
 * worker ever touches a session.  The only value that changes meanwhile,
 * the bytes of output queued, is a relaxed atomic written by the owning
 * worker whenever it looks at its queue anyway (approximate by design).
 */
#ifndef AMID_SESSREG_H
#define AMID_SESSREG_H

#include <glib.h>

#include "session.h"

G_BEGIN_DECLS

/** What the registry knows of one logged-in session. */
struct AmidSessInfo {
	guint64 id; /* the session's id, unique in the process */
	char *username; /* as typed at login */
	char peer[64]; /* "address:port" */
	int fd;
	int readperm; /* at login */
	int writeperm; /* at login */
	guint worker; /* index of the owning I/O worker */
	gint64 start; /* login time, µs since the epoch */
	gsize queued; /* output bytes pending; atomic, see above */
};
typedef struct AmidSessInfo AmidSessInfo;

/** Record @s as logged in (its worker, at login); sets s->reg. */
void amid_sessreg_add(AmiSession *s);
/** Forget @s (its worker, at close); clears s->reg.  Idempotent. */
void amid_sessreg_remove(AmiSession *s);

/** Note how many output bytes @s has pending (its worker only). */
static inline void amid_sessreg_note_queued(AmiSession *s, gsize bytes)
{
	if (s->reg)
		__atomic_store_n(&s->reg->queued, bytes, __ATOMIC_RELAXED);
}

/**
 * Copies of every registered session, oldest login first (transfer full:
 * a GPtrArray of AmidSessInfo* that frees its elements).  Thread safe.
 */
GPtrArray *amid_sessreg_snapshot(void);
/** Number of registered sessions.  Thread safe. */
guint amid_sessreg_count(void);

G_END_DECLS

#endif
