/* Custom hooks: core side. */
#ifndef AMID_HOOKS_H
#define AMID_HOOKS_H

#include <amid/hook.h>

G_BEGIN_DECLS

/** Call every hook with an event (any thread). */
void amid_hooks_call(int category, const char *event, const char *text);
/** Remove the hooks @module left registered; returns how many. */
guint amid_hooks_sweep_module(AmiModule *module);

G_END_DECLS

#endif
