/* The registry of logged-in sessions (see sessreg.h). */
#include "sessreg.h"
#include "worker.h"

#include <string.h>

static GMutex lock;
static GHashTable *entries; /* AmidSessInfo* set; under lock */

static void info_free(gpointer p)
{
	AmidSessInfo *i = p;
	if (!i)
		return;
	g_free(i->username);
	g_free(i);
}

void amid_sessreg_add(AmiSession *s)
{
	if (s->reg)
		amid_sessreg_remove(s);
	AmidSessInfo *i = g_new0(AmidSessInfo, 1);
	i->id = s->id;
	i->username = g_strdup(s->username ? s->username : "");
	g_strlcpy(i->peer, s->peer, sizeof(i->peer));
	i->fd = s->fd;
	i->readperm = s->readperm;
	i->writeperm = s->writeperm;
	i->worker = s->worker ? s->worker->index : 0;
	i->start = g_get_real_time();
	g_mutex_lock(&lock);
	if (!entries)
		entries = g_hash_table_new_full(NULL, NULL, info_free, NULL);
	g_hash_table_add(entries, i);
	g_mutex_unlock(&lock);
	s->reg = i;
}

void amid_sessreg_remove(AmiSession *s)
{
	AmidSessInfo *i = s->reg;
	if (!i)
		return;
	s->reg = NULL;
	g_mutex_lock(&lock);
	gboolean found = entries && g_hash_table_remove(entries, i);
	if (entries && g_hash_table_size(entries) == 0)
		g_clear_pointer(&entries, g_hash_table_unref);
	g_mutex_unlock(&lock);
	if (!found)
		info_free(i);
}

static gint by_id(gconstpointer pa, gconstpointer pb)
{
	const AmidSessInfo *a = *(AmidSessInfo *const *)pa;
	const AmidSessInfo *b = *(AmidSessInfo *const *)pb;
	return a->id < b->id ? -1 : a->id > b->id;
}

GPtrArray *amid_sessreg_snapshot(void)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(info_free);
	g_mutex_lock(&lock);
	if (entries) {
		GHashTableIter it;
		gpointer key;
		g_hash_table_iter_init(&it, entries);
		while (g_hash_table_iter_next(&it, &key, NULL)) {
			const AmidSessInfo *i = key;
			AmidSessInfo *c = g_new0(AmidSessInfo, 1);
			c->id = i->id;
			c->username = g_strdup(i->username);
			memcpy(c->peer, i->peer, sizeof(c->peer));
			c->fd = i->fd;
			c->readperm = i->readperm;
			c->writeperm = i->writeperm;
			c->worker = i->worker;
			c->start = i->start;
			c->queued = __atomic_load_n(&i->queued,
						    __ATOMIC_RELAXED);
			g_ptr_array_add(out, c);
		}
	}
	g_mutex_unlock(&lock);
	g_ptr_array_sort(out, by_id);
	return out;
}

guint amid_sessreg_count(void)
{
	g_mutex_lock(&lock);
	guint n = entries ? g_hash_table_size(entries) : 0;
	g_mutex_unlock(&lock);
	return n;
}
