/*
 * amid — session datastores: per-session data a module attaches to a
 * manager session, freed with the session or when the module unloads.
 *
 * Mirrors Asterisk's ast_datastore / astman_datastore_add / _remove / _find.
 */
#ifndef AMID_DATASTORE_H
#define AMID_DATASTORE_H

#include <glib.h>

#include <amid/module.h>
#include <amid/manager.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The type of a datastore: a name and how to free its data.  Static. */
typedef struct AmiDatastoreInfo {
	const char *type; /**< e.g. "mod_example/counter" */
	/** Frees `data`; called once, on the session's worker thread. */
	void (*destroy)(void *data);
} AmiDatastoreInfo;

/** One datastore.  Fields may be read; set `data` after allocation. */
typedef struct AmiDatastore {
	const AmiDatastoreInfo *info; /**< its type (transfer none) */
	char *uid; /**< optional id, NULL when none (owned) */
	void *data; /**< the module's data, freed by info->destroy */
	AmiModule *module; /**< owner: swept when it unloads */
} AmiDatastore;

/**
 * Allocate a datastore of type @info with an optional @uid (copied).
 * @module is the owning module (use the ami_datastore_alloc() macro).
 * Returns a new datastore (transfer full) with data = NULL; give it to a
 * session with ami_session_datastore_add(), or free it with
 * ami_datastore_free().  Mirrors ast_datastore_alloc().
 */
AMI_API AmiDatastore *ami_datastore_alloc_full(const AmiDatastoreInfo *info,
					       const char *uid,
					       AmiModule *module);

#define ami_datastore_alloc(info, uid)                                      \
	ami_datastore_alloc_full(info, uid, AMI_MODULE_SELF)

/**
 * Free a datastore that no session holds: runs info->destroy on data (when
 * both are set) and frees the struct.  NULL is ignored.
 * Mirrors ast_datastore_free().
 */
AMI_API void ami_datastore_free(AmiDatastore *ds);

/**
 * Attach @ds to session @s (the session takes ownership; newest first).
 * Returns 0, or -EINVAL for NULL arguments.  Call from a handler of @s.
 * Mirrors astman_datastore_add().
 */
AMI_API int ami_session_datastore_add(AmiSession *s, AmiDatastore *ds);

/**
 * Detach @ds from @s without freeing it (ownership returns to the caller).
 * Returns 0, or -ENOENT when @s does not hold it.
 * Mirrors astman_datastore_remove().
 */
AMI_API int ami_session_datastore_remove(AmiSession *s, AmiDatastore *ds);

/**
 * Find the newest datastore of type @info on @s whose uid equals @uid
 * (case-insensitive), or any uid when @uid is NULL.  Returns it (transfer
 * none, valid while attached) or NULL.  Mirrors astman_datastore_find().
 */
AMI_API AmiDatastore *ami_session_datastore_find(AmiSession *s,
						 const AmiDatastoreInfo *info,
						 const char *uid);

#ifdef __cplusplus
}
#endif

#endif /* AMID_DATASTORE_H */
