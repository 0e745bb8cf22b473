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
	g_mutex_lock(&s->ds_lock);
	s->datastores = g_slist_prepend(s->datastores, ds);
	g_mutex_unlock(&s->ds_lock);
	return 0;
}

AMI_API int ami_session_datastore_remove(AmiSession *s, AmiDatastore *ds)
{
	if (!s || !ds)
		return -ENOENT;
	g_mutex_lock(&s->ds_lock);
	gboolean found = g_slist_find(s->datastores, ds) != NULL;
	if (found)
		s->datastores = g_slist_remove(s->datastores, ds);
	g_mutex_unlock(&s->ds_lock);
	return found ? 0 : -ENOENT;
}

AMI_API AmiDatastore *ami_session_datastore_find(AmiSession *s,
						 const AmiDatastoreInfo *info,
						 const char *uid)
{
	AmiDatastore *found = NULL;
	if (!s)
		return NULL;
	g_mutex_lock(&s->ds_lock);
	for (GSList *l = s->datastores; l && !found; l = l->next) {
		AmiDatastore *ds = l->data;
		if (ds->info == info &&
		    (!uid || (ds->uid && !g_ascii_strcasecmp(ds->uid, uid))))
			found = ds;
	}
	g_mutex_unlock(&s->ds_lock);
	return found;
}

void amid_datastores_free_all(AmiSession *s)
{
	g_slist_free_full(g_steal_pointer(&s->datastores),
			  (GDestroyNotify)ami_datastore_free);
}

guint amid_datastores_sweep_module(AmiSession *s, AmiModule *module)
{
	guint n = 0;
	GSList *mine = NULL;
	g_mutex_lock(&s->ds_lock);
	GSList *l = s->datastores;
	while (l) {
		GSList *next = l->next;
		AmiDatastore *ds = l->data;
		if (ds->module == module) {
			s->datastores = g_slist_remove_link(s->datastores, l);
			mine = g_slist_concat(l, mine);
			n++;
		}
		l = next;
	}
	g_mutex_unlock(&s->ds_lock);
	/* destroy callbacks run outside the lock */
	g_slist_free_full(mine, (GDestroyNotify)ami_datastore_free);
	return n;
}
