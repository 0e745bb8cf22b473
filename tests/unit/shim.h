/*
 * The C core seen from C++: every core header the unit tests use, with C
 * linkage.  GLib is included first, outside the extern "C" block, because in
 * C++ mode it declares templates (which cannot have C linkage); its include
 * guards then make the core headers' own #include <glib.h> a no-op.
 */
#ifndef AMID_TESTS_UNIT_SHIM_H
#define AMID_TESTS_UNIT_SHIM_H

#include <glib.h>

extern "C" {
#include <amid/manager.h>
#include <amid/datastore.h>
#include <amid/hook.h>
#include <amid/module.h>

#include "actions.h"
#include "auth.h"
#include "config.h"
#include "datastore.h" /* amid_datastores_sweep_module() */
#include "hooks.h" /* amid_hooks_sweep_module() */
#include "loader.h"
#include "message.h"
#include "outqueue.h"
#include "perms.h"
#include "session.h" /* amid_session_effective_mask() */
}

#include <string>

/* A g_free()d C string as a std::string (NULL → ""). */
static inline std::string take_str(char *s)
{
	std::string out = s ? s : "";
	g_free(s);
	return out;
}

#endif
