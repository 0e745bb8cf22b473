/*
 * The module loader: dlopen()s modules from the modules directory, checks
 * their descriptor before running any of their code, and unloads them only
 * when none of their handlers runs.
 */
#ifndef AMID_LOADER_H
#define AMID_LOADER_H

#include <glib.h>
#include <amid/module.h>

#include "config.h"

G_BEGIN_DECLS

/** Set the directory modules are loaded from (copied). */
void amid_loader_set_directory(const char *dir);
/** Load the start-up set described by @c (load list, then autoload). */
void amid_loader_load_startup(const AmidConfig *c);
/** Unload every module, most recently loaded first. */
void amid_loader_unload_all(void);

/** Mark a module busy (a handler of it runs).  FALSE if it is stopping. */
gboolean amid_module_enter(AmiModule *m);
void amid_module_leave(AmiModule *m);

G_END_DECLS

#endif
