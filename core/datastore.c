/* Session datastores (astman_datastore_*). */
#include "datastore.h"
#include "session.h"

#include <errno.h>

AMI_API AmiDatastore *ami_datastore_alloc_full(const AmiDatastoreInfo *info,
					       const char *uid,
					       AmiModule *module)
{
	if (!info)
		return NULL;
	AmiDatastore *ds = g_new0(AmiDatastore, 1);
	ds->info = info;
	ds->uid = g_strdup(uid);
	ds->module = module;
	return ds;
}

AMI_API void ami_datastore_free(AmiDatastore *ds)
{
	if (!ds)
		return;
	if (ds->data && ds->info && ds->info->destroy)
		ds->info->destroy(ds->data);
	g_free(ds->uid);
	g_free(ds);
}

AMI_API int ami_session_datastore_add(AmiSession *s, AmiDatastore *ds)
{
	if (!s || !ds)
		return -EINVAL;
	s->datastores = g_slist_prepend(s->datastores, ds);
	return 0;
}

AMI_API int ami_session_datastore_remove(AmiSession *s, AmiDatastore *ds)
{
	if (!s || !ds || !g_slist_find(s->datastores, ds))
		return -ENOENT;
	s->datastores = g_slist_remove(s->datastores, ds);
	return 0;
}

AMI_API AmiDatastore *ami_session_datastore_find(AmiSession *s,
						 const AmiDatastoreInfo *info,
						 const char *uid)
{
	for (GSList *l = s ? s->datastores : NULL; l; l = l->next) {
		AmiDatastore *ds = l->data;
		if (ds->info != info)
			continue;
		if (!uid || (ds->uid && !g_ascii_strcasecmp(ds->uid, uid)))
			return ds;
	}
	return NULL;
}

void amid_datastores_free_all(AmiSession *s)
{
	g_slist_free_full(g_steal_pointer(&s->datastores),
			  (GDestroyNotify)ami_datastore_free);
}

guint amid_datastores_sweep_module(AmiSession *s, AmiModule *module)
{
	guint n = 0;
	GSList *l = s->datastores;
	while (l) {
		GSList *next = l->next;
		AmiDatastore *ds = l->data;
		if (ds->module == module) {
			s->datastores = g_slist_delete_link(s->datastores, l);
			ami_datastore_free(ds);
			n++;
		}
		l = next;
	}
	return n;
}
