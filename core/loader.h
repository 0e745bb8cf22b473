/*
 * The module loader: dlopen()s modules from the modules directory, checks
 * their descriptor before running any of their code, orders start-up
 * loading by `requires`, and unloads a module only when none of its code
 * runs; the dlclose() waits until every worker has dropped the module's
 * session datastores.
 */
#ifndef AMID_LOADER_H
#define AMID_LOADER_H

#include <glib.h>
#include <amid/module.h>

#include "config.h"

G_BEGIN_DECLS

/** Set the directory modules are loaded from (copied). */
void amid_loader_set_directory(const char *dir);
/**
 * Load the start-up set described by @c: `preload` in order, then `load`
 * and (with autoload) every module in the directory, ordered so that each
 * module comes after those it requires.  Missing requirements and cycles
 * are logged and those modules skipped.  Returns FALSE when a module of
 * `require` did not load (@error says which).
 */
gboolean amid_loader_load_startup(const AmidConfig *c, GError **error);
/** Unload every module, most recently loaded first. */
void amid_loader_unload_all(void);

/** What amid_loader_foreach() shows of one loaded module. */
typedef struct {
	const char *name; /* "mod_core" */
	const char *description; /* "" when none */
	const char *version; /* "" when none */
	const char *requires; /* "" when none */
	const char *path; /* the file it was loaded from */
	int usecount; /* calls into its code running now */
} AmidModuleView;

/**
 * Call @cb for every loaded module, in load order, with the loader's lock
 * held: @cb must not load, unload or reload modules.  The view is
 * borrowed for the call.  Returns the number of modules.  Thread safe.
 */
guint amid_loader_foreach(void (*cb)(const AmidModuleView *v, void *data),
			  void *data);

/** Mark a module busy (its code runs).  FALSE if it is stopping. */
gboolean amid_module_enter(AmiModule *m);
void amid_module_leave(AmiModule *m);
/** Keep the module's code mapped (dlclose happens at the last unref). */
AmiModule *amid_module_ref(AmiModule *m);
void amid_module_unref(AmiModule *m);

/** Remove the timers @module left (timers.c). */
guint amid_timers_sweep_module(AmiModule *module);

G_END_DECLS

#endif
