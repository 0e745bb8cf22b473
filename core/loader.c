/*
 * Module loader.  A module is `<dir>/<name>.so` exporting one const
 * AmiModuleInfo named ami_module_info.  Order of checks: file inside the
 * directory, dlopen(RTLD_NOW | RTLD_LOCAL), descriptor magic, ABI major,
 * ABI minor, build signature, name, requirements; only then load().
 */
#include "loader.h"
#include "actions.h"
#include "hooks.h"
#include "worker.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

/* How long an unload waits for running handlers of the module. */
#define UNLOAD_WAIT_US (200 * 1000)

struct AmiModule {
	gint refcount; /* "loaded" + pending worker sweeps */
	char *name; /* from the descriptor */
	char *path;
	void *handle;
	const AmiModuleInfo *info;
	gint busy; /* its code is running */
	gint stopping; /* unload in progress: refuse new calls */
};

static GMutex lock; /* serialises load/unload; guards `loaded` */
static GPtrArray *loaded; /* AmiModule*, load order */
static char *moduledir;

void amid_loader_set_directory(const char *dir)
{
	g_mutex_lock(&lock);
	g_free(moduledir);
	moduledir = g_strdup(dir);
	if (!loaded)
		loaded = g_ptr_array_new();
	g_mutex_unlock(&lock);
}

AMI_API const char *ami_module_name(const AmiModule *module)
{
	return module ? module->name : "core";
}

/*
 * Count the call first, then check `stopping`; quiesce() does the mirror
 * image (set `stopping`, then read `busy`), so with sequentially consistent
 * atomics either this call sees `stopping` and backs out, or quiesce() sees
 * it busy and waits.  Checking first left a window in which a hook or timer
 * call could pass the check, quiesce() could find busy == 0 and unload, and
 * the call would then run code that was being dlclose()d.
 */
gboolean amid_module_enter(AmiModule *m)
{
	g_atomic_int_inc(&m->busy);
	if (g_atomic_int_get(&m->stopping)) {
		g_atomic_int_dec_and_test(&m->busy);
		return FALSE;
	}
	return TRUE;
}

void amid_module_leave(AmiModule *m)
{
	g_atomic_int_dec_and_test(&m->busy);
}

AmiModule *amid_module_ref(AmiModule *m)
{
	g_atomic_int_inc(&m->refcount);
	return m;
}

void amid_module_unref(AmiModule *m)
{
	if (!g_atomic_int_dec_and_test(&m->refcount))
		return;
	if (m->handle)
		dlclose(m->handle);
	g_free(m->name);
	g_free(m->path);
	g_free(m);
}

/* "mod_x", "mod_x.so", "MOD_X.SO" → "mod_x"; NULL if it is not a plain name. */
static char *base_name(const char *name)
{
	if (!name || !*name || strchr(name, '/') || strstr(name, ".."))
		return NULL;
	gsize len = strlen(name);
	if (len > 3 && g_ascii_strcasecmp(name + len - 3, ".so") == 0)
		len -= 3;
	return len ? g_strndup(name, len) : NULL;
}

static AmiModule *find_locked(const char *base)
{
	for (guint i = 0; loaded && i < loaded->len; i++) {
		AmiModule *m = loaded->pdata[i];
		if (g_ascii_strcasecmp(m->name, base) == 0)
			return m;
	}
	return NULL;
}

/* Remove whatever @m left registered in the process-wide registries. */
static void sweep(AmiModule *m)
{
	amid_actions_sweep_module(m);
	amid_hooks_sweep_module(m);
	amid_timers_sweep_module(m);
}

/* ------------------------------------------------------------ opening */

static int check_descriptor(const char *path, const AmiModuleInfo *info,
			    const char *base)
{
	if (info->magic != AMI_MODULE_MAGIC) {
		g_warning("module %s: not an amid module (bad magic)", path);
		return -ENOEXEC;
	}
	if (info->abi_major != AMI_MODULE_ABI_MAJOR ||
	    info->abi_minor > AMI_MODULE_ABI_MINOR) {
		g_warning("module %s: built for SDK ABI %u.%u, this amid has "
			  "%u.%u; rebuild it against this SDK",
			  path, info->abi_major, info->abi_minor,
			  AMI_MODULE_ABI_MAJOR, AMI_MODULE_ABI_MINOR);
		return -ENOEXEC;
	}
	if (info->struct_size < offsetof(AmiModuleInfo, reserved) ||
	    !info->build_signature ||
	    strcmp(info->build_signature, AMI_BUILD_SIGNATURE) != 0) {
		g_warning("module %s: build signature '%s' differs from "
			  "amid's '%s'",
			  path,
			  info->build_signature ? info->build_signature : "(none)",
			  AMI_BUILD_SIGNATURE);
		return -ENOEXEC;
	}
	if (!info->name || !info->load) {
		g_warning("module %s: descriptor has no name or load()", path);
		return -ENOEXEC;
	}
	if (g_ascii_strcasecmp(info->name, base) != 0) {
		g_warning("module %s: its descriptor calls it '%s'; the file "
			  "must be named after the module",
			  path, info->name);
		return -ENOEXEC;
	}
	return 0;
}

/* dlopen @name and check it, without running any of its code. */
static int open_module(const char *name, AmiModule **out)
{
	*out = NULL;
	g_autofree char *base = base_name(name);
	if (!base) {
		g_warning("module '%s': must be a name in the modules "
			  "directory", name ? name : "");
		return -EPERM;
	}
	if (find_locked(base)) {
		g_message("module %s is already loaded", base);
		return -EEXIST;
	}

	g_autofree char *file = g_strconcat(base, ".so", NULL);
	g_autofree char *path = g_build_filename(moduledir, file, NULL);
	if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
		g_warning("module %s: no such file", path);
		return -ENOENT;
	}
	void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		g_warning("module %s: %s", path, dlerror());
		return -ENOEXEC;
	}
	const AmiModuleInfo *info = dlsym(handle, AMI_MODULE_INFO_SYMBOL);
	int r = -ENOEXEC;
	if (!info)
		g_warning("module %s: no %s symbol: not an amid module", path,
			  AMI_MODULE_INFO_SYMBOL);
	else
		r = check_descriptor(path, info, base);
	if (r) {
		dlclose(handle);
		return r;
	}
	AmiModule *m = g_new0(AmiModule, 1);
	m->refcount = 1;
	m->name = g_strdup(info->name);
	m->path = g_strdup(path);
	m->handle = handle;
	m->info = info;
	*out = m;
	return 0;
}

static int requirements_met(const AmiModule *m)
{
	if (!m->info->requires || !*m->info->requires)
		return 0;
	g_auto(GStrv) names = g_strsplit(m->info->requires, ",", -1);
	for (char **n = names; *n; n++) {
		g_autofree char *b = base_name(g_strstrip(*n));
		if (b && !find_locked(b)) {
			g_warning("module %s requires %s, which is not loaded",
				  m->name, b);
			/* Not -ENOENT: the module's own file was found. */
			return -ECANCELED;
		}
	}
	return 0;
}

/* Run load() of an opened module; consumes @m on failure. */
static int start_module(AmiModule *m)
{
	int r = requirements_met(m);
	if (r) {
		amid_module_unref(m);
		return r;
	}
	if (m->info->self_slot)
		*m->info->self_slot = m;
	AmiModuleLoadResult res = m->info->load(m);
	if (res != AMI_MODULE_LOAD_SUCCESS) {
		g_warning("module %s: load %s", m->name,
			  res == AMI_MODULE_LOAD_DECLINE ? "declined" : "failed");
		g_atomic_int_set(&m->stopping, 1);
		sweep(m);
		amid_module_unref(m);
		return -ECANCELED;
	}
	g_ptr_array_add(loaded, m);
	g_message("Loaded module %s (%s)", m->name,
		  m->info->description ? m->info->description : "");
	return 0;
}

AMI_API int ami_module_load(const char *name)
{
	g_mutex_lock(&lock);
	AmiModule *m;
	int r = open_module(name, &m);
	if (r == 0)
		r = start_module(m);
	g_mutex_unlock(&lock);
	return r;
}

/* ------------------------------------------------------------ unloading */

/* Is @m named in another loaded module's `requires`? */
static const char *required_by_locked(const AmiModule *m)
{
	for (guint i = 0; i < loaded->len; i++) {
		AmiModule *o = loaded->pdata[i];
		if (o == m || !o->info->requires)
			continue;
		g_auto(GStrv) names = g_strsplit(o->info->requires, ",", -1);
		for (char **n = names; *n; n++) {
			g_autofree char *b = base_name(g_strstrip(*n));
			if (b && g_ascii_strcasecmp(b, m->name) == 0)
				return o->name;
		}
	}
	return NULL;
}

/* Stop new calls into @m and wait (bounded) for running ones to end. */
static gboolean quiesce(AmiModule *m)
{
	amid_actions_block();
	g_atomic_int_set(&m->stopping, 1);
	amid_actions_unblock();
	gint64 until = g_get_monotonic_time() + UNLOAD_WAIT_US;
	while (g_atomic_int_get(&m->busy) > 0) {
		if (g_get_monotonic_time() > until) {
			g_atomic_int_set(&m->stopping, 0);
			return FALSE;
		}
		g_usleep(1000);
	}
	return TRUE;
}

static void finish_unload(AmiModule *m)
{
	sweep(m);
	g_ptr_array_remove(loaded, m);
	g_message("Unloaded module %s", m->name);
	/* Workers drop its datastores; the last one to finish dlclose()s. */
	amid_workers_sweep_module(m);
	amid_module_unref(m);
}

static int unload_locked(AmiModule *m)
{
	const char *user = required_by_locked(m);
	if (user) {
		g_warning("module %s: cannot unload, %s requires it", m->name,
			  user);
		return -EBUSY;
	}
	if (!quiesce(m)) {
		g_warning("module %s: cannot unload while its code runs",
			  m->name);
		return -EBUSY;
	}
	if (m->info->unload && m->info->unload(m) != 0) {
		g_atomic_int_set(&m->stopping, 0);
		g_warning("module %s: refused to unload", m->name);
		return -EBUSY;
	}
	finish_unload(m);
	return 0;
}

AMI_API int ami_module_unload(const char *name)
{
	g_autofree char *base = base_name(name);
	g_mutex_lock(&lock);
	AmiModule *m = base ? find_locked(base) : NULL;
	int r = m ? unload_locked(m) : -ENOENT;
	g_mutex_unlock(&lock);
	return r;
}

AMI_API int ami_module_reload(const char *name)
{
	int r = 0;
	g_mutex_lock(&lock);
	if (!name || !*name) {
		for (guint i = 0; i < loaded->len; i++) {
			AmiModule *m = loaded->pdata[i];
			if (m->info->reload && amid_module_enter(m)) {
				m->info->reload(m);
				amid_module_leave(m);
			}
		}
	} else {
		g_autofree char *base = base_name(name);
		AmiModule *m = base ? find_locked(base) : NULL;
		if (!m)
			r = -ENOENT;
		else if (!m->info->reload)
			r = -ENOTSUP;
		else if (amid_module_enter(m)) {
			r = m->info->reload(m) ? -ECANCELED : 0;
			amid_module_leave(m);
		}
	}
	g_mutex_unlock(&lock);
	return r;
}

AMI_API gboolean ami_module_is_loaded(const char *name, char **version_out)
{
	g_autofree char *base = base_name(name);
	g_mutex_lock(&lock);
	AmiModule *m = base ? find_locked(base) : NULL;
	if (m && version_out)
		*version_out = g_strdup(m->info->version ? m->info->version
							 : "");
	g_mutex_unlock(&lock);
	return m != NULL;
}

guint amid_loader_foreach(void (*cb)(const AmidModuleView *v, void *data),
			  void *data)
{
	g_mutex_lock(&lock);
	guint n = loaded ? loaded->len : 0;
	for (guint i = 0; i < n; i++) {
		const AmiModule *m = loaded->pdata[i];
		const AmiModuleInfo *info = m->info;
		AmidModuleView v = {
			.name = m->name,
			.description = info->description ? info->description
							 : "",
			.version = info->version ? info->version : "",
			.requires = info->requires ? info->requires : "",
			.path = m->path,
			.usecount = g_atomic_int_get(&m->busy),
		};
		cb(&v, data);
	}
	g_mutex_unlock(&lock);
	return n;
}

void amid_loader_unload_all(void)
{
	g_mutex_lock(&lock);
	while (loaded && loaded->len) {
		AmiModule *m = loaded->pdata[loaded->len - 1];
		quiesce(m);
		if (m->info->unload)
			m->info->unload(m);
		finish_unload(m);
	}
	g_mutex_unlock(&lock);
}

/* ------------------------------------------------------------ start-up */

static gboolean in_list(GPtrArray *list, const char *base)
{
	for (guint i = 0; i < list->len; i++) {
		g_autofree char *b = base_name(list->pdata[i]);
		if (b && g_ascii_strcasecmp(b, base) == 0)
			return TRUE;
	}
	return FALSE;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Module names to load at start-up: `load` in order, then autoload. */
static GPtrArray *startup_names(const AmidConfig *c)
{
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < c->load->len; i++) {
		char *b = base_name(c->load->pdata[i]);
		if (!b) {
			g_warning("modules.load: '%s' is not a module name",
				  (char *)c->load->pdata[i]);
			continue;
		}
		if (in_list(c->noload, b) || in_list(names, b))
			g_free(b);
		else
			g_ptr_array_add(names, b);
	}
	if (!c->autoload)
		return names;

	g_autoptr(GDir) dir = g_dir_open(moduledir, 0, NULL);
	if (!dir) {
		g_warning("modules directory %s cannot be read", moduledir);
		return names;
	}
	g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
	const char *entry;
	while ((entry = g_dir_read_name(dir)))
		if (g_str_has_suffix(entry, ".so"))
			g_ptr_array_add(found, base_name(entry));
	g_ptr_array_sort(found, compare_names);
	for (guint i = 0; i < found->len; i++) {
		const char *b = found->pdata[i];
		if (b && !in_list(c->noload, b) && !in_list(names, b))
			g_ptr_array_add(names, g_strdup(b));
	}
	return names;
}

static AmiModule *find_in(GPtrArray *mods, const char *base)
{
	for (guint i = 0; i < mods->len; i++) {
		AmiModule *m = mods->pdata[i];
		if (m && g_ascii_strcasecmp(m->name, base) == 0)
			return m;
	}
	return NULL;
}

enum { UNSEEN, VISITING, DONE, BROKEN };

/*
 * Depth-first topological order over `requires`.  A requirement that is
 * neither being loaded nor already loaded, or a cycle, marks the module
 * (and those that need it) BROKEN.
 */
static int visit(GPtrArray *mods, GHashTable *state, AmiModule *m,
		 GPtrArray *order)
{
	int st = GPOINTER_TO_INT(g_hash_table_lookup(state, m));
	if (st == DONE || st == BROKEN)
		return st;
	if (st == VISITING) {
		g_warning("module %s: dependency cycle", m->name);
		return BROKEN;
	}
	g_hash_table_insert(state, m, GINT_TO_POINTER(VISITING));
	int result = DONE;
	if (m->info->requires) {
		g_auto(GStrv) req = g_strsplit(m->info->requires, ",", -1);
		for (char **n = req; *n && result == DONE; n++) {
			g_autofree char *b = base_name(g_strstrip(*n));
			if (!b || find_locked(b))
				continue;
			AmiModule *dep = find_in(mods, b);
			if (!dep) {
				g_warning("module %s requires %s, which is not "
					  "available; not loading it",
					  m->name, b);
				result = BROKEN;
			} else if (visit(mods, state, dep, order) != DONE) {
				g_warning("module %s: not loaded because %s "
					  "could not be", m->name, dep->name);
				result = BROKEN;
			}
		}
	}
	g_hash_table_insert(state, m, GINT_TO_POINTER(result));
	if (result == DONE)
		g_ptr_array_add(order, m);
	return result;
}

gboolean amid_loader_load_startup(const AmidConfig *c, GError **error)
{
	gint64 t0 = g_get_monotonic_time();
	g_mutex_lock(&lock);

	/* preload: in the order given, each fully loaded before the next. */
	for (guint i = 0; i < c->preload->len; i++) {
		AmiModule *m;
		int r = open_module(c->preload->pdata[i], &m);
		if (r == 0)
			r = start_module(m);
		if (r && r != -EEXIST)
			g_warning("preload %s failed: %s",
				  (char *)c->preload->pdata[i], g_strerror(-r));
	}

	g_autoptr(GPtrArray) names = startup_names(c);
	g_autoptr(GPtrArray) mods = g_ptr_array_new();
	for (guint i = 0; i < names->len; i++) {
		AmiModule *m;
		if (open_module(names->pdata[i], &m) == 0 &&
		    !find_in(mods, m->name))
			g_ptr_array_add(mods, m);
		else if (m)
			amid_module_unref(m);
	}

	g_autoptr(GHashTable) state = g_hash_table_new(NULL, NULL);
	g_autoptr(GPtrArray) order = g_ptr_array_new();
	for (guint i = 0; i < mods->len; i++)
		visit(mods, state, mods->pdata[i], order);
	for (guint i = 0; i < mods->len; i++)
		if (GPOINTER_TO_INT(g_hash_table_lookup(state, mods->pdata[i])) !=
		    DONE)
			amid_module_unref(mods->pdata[i]);
	for (guint i = 0; i < order->len; i++)
		start_module(order->pdata[i]);

	gboolean ok = TRUE;
	for (guint i = 0; i < c->require->len && ok; i++) {
		g_autofree char *b = base_name(c->require->pdata[i]);
		if (!b || !find_locked(b)) {
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
				    "required module %s did not load",
				    (char *)c->require->pdata[i]);
			ok = FALSE;
		}
	}
	guint n = loaded->len;
	g_mutex_unlock(&lock);
	g_message("%u modules loaded in %.1f ms", n,
		  (g_get_monotonic_time() - t0) / 1000.0);
	return ok;
}
