/* Session datastores: core side. */
#ifndef AMID_CORE_DATASTORE_H
#define AMID_CORE_DATASTORE_H

#include <amid/datastore.h>

G_BEGIN_DECLS

/** Free every datastore of @s (session end). */
void amid_datastores_free_all(AmiSession *s);
/** Free the datastores of @s owned by @module; returns how many. */
guint amid_datastores_sweep_module(AmiSession *s, AmiModule *module);

G_END_DECLS

#endif
