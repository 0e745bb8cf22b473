/*
 * Module timers on the main thread's context.  Each call holds the
 * module busy; the loader removes a module's timers when it unloads.
 */
#include "loader.h"

#include <errno.h>

typedef struct {
	guint id;
	AmiModule *module;
	gboolean (*func)(void *data);
	void *data;
	GSource *source;
} Timer;

static GMutex lock;
static GHashTable *timers; /* id → Timer* */
static guint next_id = 1;

static gboolean fire(gpointer p)
{
	Timer *t = p;
	if (t->module && !amid_module_enter(t->module))
		return G_SOURCE_CONTINUE; /* module stopping: sweep is coming */
	gboolean again = t->func(t->data);
	if (t->module)
		amid_module_leave(t->module);
	if (!again) {
		g_mutex_lock(&lock);
		g_hash_table_remove(timers, GUINT_TO_POINTER(t->id));
		g_mutex_unlock(&lock);
	}
	return again;
}

static void timer_drop(gpointer p)
{
	Timer *t = p;
	GSource *source = t->source;
	/* Destroying the source frees @t (its callback data) unless it is
	 * being dispatched: do not read t->source afterwards. */
	g_source_destroy(source);
	g_source_unref(source);
}

AMI_API guint ami_timer_add(AmiModule *module, guint interval_ms,
			    gboolean (*func)(void *data), void *data)
{
	if (!func || !interval_ms)
		return 0;
	Timer *t = g_new0(Timer, 1);
	t->module = module;
	t->func = func;
	t->data = data;
	t->source = g_timeout_source_new(interval_ms);
	g_source_set_callback(t->source, fire, t, g_free);

	g_mutex_lock(&lock);
	if (!timers)
		timers = g_hash_table_new_full(NULL, NULL, NULL, timer_drop);
	t->id = next_id++;
	g_hash_table_insert(timers, GUINT_TO_POINTER(t->id), t);
	guint id = t->id;
	g_source_attach(t->source, NULL);
	g_mutex_unlock(&lock);
	return id;
}

AMI_API int ami_timer_remove(guint id)
{
	g_mutex_lock(&lock);
	gboolean found = timers &&
			 g_hash_table_remove(timers, GUINT_TO_POINTER(id));
	g_mutex_unlock(&lock);
	return found ? 0 : -ENOENT;
}

guint amid_timers_sweep_module(AmiModule *module)
{
	guint n = 0;
	GHashTableIter it;
	gpointer value;
	g_mutex_lock(&lock);
	if (timers) {
		g_hash_table_iter_init(&it, timers);
		while (g_hash_table_iter_next(&it, NULL, &value)) {
			Timer *t = value;
			if (t->module != module)
				continue;
			g_warning("module %s left a timer running; removed",
				  ami_module_name(module));
			g_hash_table_iter_remove(&it);
			n++;
		}
	}
	g_mutex_unlock(&lock);
	return n;
}
