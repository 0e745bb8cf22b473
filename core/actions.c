/* The action registry (ast_manager_register2 and friends). */
#include "actions.h"
#include "loader.h"

#include <errno.h>
#include <string.h>

struct AmidAction {
	gint refcount;
	char *name;
	int authority;
	AmiActionHandler func;
	AmiModule *module;
	char *module_name; /* copied: outlives the module */
	char *synopsis;
	char *description;
	guint flags;
	guint64 calls; /* atomic */
};

static GRWLock lock;
static GHashTable *registry; /* lower-case name → AmidAction* */

static void action_unref(AmidAction *a)
{
	if (!g_atomic_int_dec_and_test(&a->refcount))
		return;
	g_free(a->name);
	g_free(a->module_name);
	g_free(a->synopsis);
	g_free(a->description);
	g_free(a);
}

void amid_actions_init(void)
{
	g_rw_lock_writer_lock(&lock);
	if (!registry)
		registry = g_hash_table_new_full(g_str_hash, g_str_equal,
						 g_free,
						 (GDestroyNotify)action_unref);
	g_rw_lock_writer_unlock(&lock);
}

void amid_actions_shutdown(void)
{
	g_rw_lock_writer_lock(&lock);
	g_clear_pointer(&registry, g_hash_table_unref);
	g_rw_lock_writer_unlock(&lock);
}

AMI_API int ami_manager_register2(const char *action, int authority,
				  AmiActionHandler func, AmiModule *module,
				  const char *synopsis, const char *description)
{
	return ami_manager_register_flags(action, authority, func, module,
					  synopsis, description, 0);
}

AMI_API int ami_manager_register_flags(const char *action, int authority,
				       AmiActionHandler func,
				       AmiModule *module,
				       const char *synopsis,
				       const char *description, guint flags)
{
	if (!action || !*action || !func)
		return -EINVAL;

	AmidAction *a = g_new0(AmidAction, 1);
	a->refcount = 1;
	a->name = g_strdup(action);
	a->authority = authority;
	a->func = func;
	a->module = module;
	a->module_name = g_strdup(module ? ami_module_name(module) : "core");
	a->synopsis = g_strdup(synopsis ? synopsis : "");
	a->description = g_strdup(description ? description : "");
	a->flags = flags;

	char *key = g_ascii_strdown(action, -1);
	g_rw_lock_writer_lock(&lock);
	gboolean taken = g_hash_table_contains(registry, key);
	if (!taken)
		g_hash_table_insert(registry, key, a);
	g_rw_lock_writer_unlock(&lock);
	if (taken) {
		g_warning("Manager: Action '%s' already registered", action);
		g_free(key);
		action_unref(a);
		return -EEXIST;
	}
	return 0;
}

AMI_API int ami_manager_unregister(const char *action)
{
	if (!action)
		return -ENOENT;
	g_autofree char *key = g_ascii_strdown(action, -1);
	g_rw_lock_writer_lock(&lock);
	gboolean found = registry && g_hash_table_remove(registry, key);
	g_rw_lock_writer_unlock(&lock);
	return found ? 0 : -ENOENT;
}

AMI_API int ami_manager_register_table(AmiModule *module,
				       const AmiActionDef *defs)
{
	for (const AmiActionDef *d = defs; d && d->name; d++) {
		int r = ami_manager_register_flags(d->name, d->authority,
						   d->handler, module,
						   d->synopsis, d->description,
						   d->flags);
		if (r) {
			for (const AmiActionDef *u = defs; u != d; u++)
				ami_manager_unregister(u->name);
			return r;
		}
	}
	return 0;
}

AMI_API int ami_manager_unregister_table(const AmiActionDef *defs)
{
	for (const AmiActionDef *d = defs; d && d->name; d++)
		ami_manager_unregister(d->name);
	return 0;
}

guint amid_action_flags(const AmidAction *a)
{
	return a->flags;
}

AmidLookupResult amid_actions_acquire(const char *name, int writeperm,
				      AmidAction **out)
{
	char key[128];
	gsize len = strlen(name);
	*out = NULL;
	if (len >= sizeof(key))
		return AMID_LOOKUP_UNKNOWN;
	for (gsize i = 0; i <= len; i++)
		key[i] = g_ascii_tolower(name[i]);

	AmidLookupResult r = AMID_LOOKUP_UNKNOWN;
	g_rw_lock_reader_lock(&lock);
	AmidAction *a = registry ? g_hash_table_lookup(registry, key) : NULL;
	if (a && a->module && !amid_module_enter(a->module))
		a = NULL; /* its module is being unloaded */
	if (a) {
		if (a->authority == 0 || (writeperm & a->authority)) {
			g_atomic_int_inc(&a->refcount);
			__atomic_fetch_add(&a->calls, 1, __ATOMIC_RELAXED);
			*out = a;
			r = AMID_LOOKUP_FOUND;
		} else {
			if (a->module)
				amid_module_leave(a->module);
			r = AMID_LOOKUP_DENIED;
		}
	}
	g_rw_lock_reader_unlock(&lock);
	return r;
}

void amid_action_release(AmidAction *a)
{
	AmiModule *mod = a->module;
	action_unref(a);
	if (mod)
		amid_module_leave(mod);
}

int amid_action_call(AmidAction *a, AmiSession *s, const AmiMessage *m)
{
	return a->func(s, m);
}

void amid_actions_block(void)
{
	g_rw_lock_writer_lock(&lock);
}

void amid_actions_unblock(void)
{
	g_rw_lock_writer_unlock(&lock);
}

guint amid_actions_sweep_module(AmiModule *module)
{
	guint n = 0;
	GHashTableIter it;
	gpointer key, value;

	g_rw_lock_writer_lock(&lock);
	g_hash_table_iter_init(&it, registry);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		AmidAction *a = value;
		if (a->module != module)
			continue;
		g_warning("module %s left action '%s' registered; removed",
			  ami_module_name(module), a->name);
		g_hash_table_iter_remove(&it);
		n++;
	}
	g_rw_lock_writer_unlock(&lock);
	return n;
}

static gint compare_actions(gconstpointer pa, gconstpointer pb)
{
	const AmidAction *a = *(AmidAction *const *)pa;
	const AmidAction *b = *(AmidAction *const *)pb;
	return g_ascii_strcasecmp(a->name, b->name);
}

AMI_API void ami_manager_foreach_action(void (*cb)(const AmiActionInfo *info,
						   void *data),
					void *data)
{
	g_autoptr(GPtrArray) list =
		g_ptr_array_new_with_free_func((GDestroyNotify)action_unref);

	g_rw_lock_reader_lock(&lock);
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, registry);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		AmidAction *a = value;
		g_atomic_int_inc(&a->refcount);
		g_ptr_array_add(list, a);
	}
	g_rw_lock_reader_unlock(&lock);

	g_ptr_array_sort(list, compare_actions);
	for (guint i = 0; i < list->len; i++) {
		AmidAction *a = list->pdata[i];
		AmiActionInfo info = {
			.name = a->name,
			.authority = a->authority,
			.synopsis = a->synopsis,
			.description = a->description,
			.module = a->module_name,
			.calls = __atomic_load_n(&a->calls, __ATOMIC_RELAXED),
		};
		cb(&info, data);
	}
}
