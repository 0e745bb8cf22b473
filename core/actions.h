/*
 * The action registry: case-insensitive names → handlers, with the owning
 * module.  Read-mostly (a GRWLock); a dispatch takes a reference on the
 * action and marks its module busy so that an unload cannot dlclose()
 * running code.
 */
#ifndef AMID_ACTIONS_H
#define AMID_ACTIONS_H

#include <glib.h>
#include <amid/manager.h>

G_BEGIN_DECLS

typedef struct AmidAction AmidAction;

void amid_actions_init(void);
void amid_actions_shutdown(void);

typedef enum {
	AMID_LOOKUP_FOUND,
	AMID_LOOKUP_UNKNOWN,
	AMID_LOOKUP_DENIED, /* authority not covered by writeperm */
} AmidLookupResult;

/**
 * Find @name and, when @writeperm covers its authority, take a reference
 * and mark its module busy.  Release with amid_action_release().
 */
AmidLookupResult amid_actions_acquire(const char *name, int writeperm,
				      AmidAction **out);
void amid_action_release(AmidAction *a);
guint amid_action_flags(const AmidAction *a);
int amid_action_call(AmidAction *a, AmiSession *s, const AmiMessage *m);

/**
 * Hold off dispatches while the loader decides whether a module may stop:
 * a dispatch checks "stopping" and marks the module busy under the same
 * lock, so the two cannot interleave.
 */
void amid_actions_block(void);
void amid_actions_unblock(void);

/** Remove every action @module still has (logs a warning per action). */
guint amid_actions_sweep_module(AmiModule *module);

G_END_DECLS

#endif
