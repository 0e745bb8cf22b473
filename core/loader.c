/*
 * Module loader.  A module is `<dir>/<name>.so` exporting one const
 * AmiModuleInfo named ami_module_info.  Order of checks: file inside the
 * directory, dlopen(RTLD_NOW | RTLD_LOCAL), descriptor magic, ABI major,
 * ABI minor, build signature, name, requirements; only then load().
 */
#include "loader.h"
#include "actions.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

struct AmiModule {
	char *name; /* from the descriptor */
	char *path;
	void *handle;
	const AmiModuleInfo *info;
	gint busy; /* handlers running */
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

gboolean amid_module_enter(AmiModule *m)
{
	if (g_atomic_int_get(&m->stopping))
		return FALSE;
	g_atomic_int_inc(&m->busy);
	return TRUE;
}

void amid_module_leave(AmiModule *m)
{
	g_atomic_int_dec_and_test(&m->busy);
}

/* "mod_x", "mod_x.so", "MOD_X.SO" → "mod_x"; NULL if it is not a plain name. */
static char *base_name(const char *name)
{
	if (!name || !*name || strchr(name, '/') || strstr(name, ".."))
		return NULL;
	gsize len = strlen(name);
	if (len > 3 && g_ascii_strcasecmp(name + len - 3, ".so") == 0)
		len -= 3;
	return g_strndup(name, len);
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

static void module_free(AmiModule *m)
{
	if (m->handle)
		dlclose(m->handle);
	g_free(m->name);
	g_free(m->path);
	g_free(m);
}

/* Remove whatever @m left registered. */
static void sweep(AmiModule *m)
{
	amid_actions_sweep_module(m);
}

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
	if (g_ascii_strcasecmp(info->name, base) != 0)
		g_warning("module %s: file name differs from its name '%s'",
			  path, info->name);
	return 0;
}

static int requirements_met(const AmiModuleInfo *info)
{
	if (!info->requires || !*info->requires)
		return 0;
	g_auto(GStrv) names = g_strsplit(info->requires, ",", -1);
	for (char **n = names; *n; n++) {
		g_autofree char *b = base_name(g_strstrip(*n));
		if (b && *b && !find_locked(b)) {
			g_warning("module %s requires %s, which is not loaded",
				  info->name, b);
			return -ENOENT;
		}
	}
	return 0;
}

static int load_locked(const char *name)
{
	g_autofree char *base = base_name(name);
	if (!base) {
		g_warning("module '%s': must be a name in the modules "
			  "directory", name ? name : "");
		return -EPERM;
	}
	if (find_locked(base))
		return -EEXIST;

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
	int r = info ? check_descriptor(path, info, base) : -ENOEXEC;
	if (!info)
		g_warning("module %s: no %s symbol", path,
			  AMI_MODULE_INFO_SYMBOL);
	if (r == 0 && find_locked(info->name))
		r = -EEXIST;
	if (r == 0)
		r = requirements_met(info);
	if (r) {
		dlclose(handle);
		return r;
	}

	AmiModule *m = g_new0(AmiModule, 1);
	m->name = g_strdup(info->name);
	m->path = g_strdup(path);
	m->handle = handle;
	m->info = info;
	if (info->self_slot)
		*info->self_slot = m;

	AmiModuleLoadResult res = info->load(m);
	if (res != AMI_MODULE_LOAD_SUCCESS) {
		g_warning("module %s: load %s", m->name,
			  res == AMI_MODULE_LOAD_DECLINE ? "declined" : "failed");
		sweep(m);
		module_free(m);
		return -ECANCELED;
	}
	g_ptr_array_add(loaded, m);
	g_message("Loaded module %s (%s)", m->name,
		  info->description ? info->description : "");
	return 0;
}

AMI_API int ami_module_load(const char *name)
{
	g_mutex_lock(&lock);
	int r = load_locked(name);
	g_mutex_unlock(&lock);
	return r;
}

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

static int unload_locked(AmiModule *m)
{
	const char *user = required_by_locked(m);
	if (user) {
		g_warning("module %s: cannot unload, %s requires it", m->name,
			  user);
		return -EBUSY;
	}
	amid_actions_block();
	gboolean busy = g_atomic_int_get(&m->busy) > 0;
	if (!busy)
		g_atomic_int_set(&m->stopping, 1);
	amid_actions_unblock();
	if (busy) {
		g_warning("module %s: cannot unload while one of its actions "
			  "runs", m->name);
		return -EBUSY;
	}
	if (m->info->unload && m->info->unload(m) != 0) {
		g_atomic_int_set(&m->stopping, 0);
		g_warning("module %s: refused to unload", m->name);
		return -EBUSY;
	}
	sweep(m);
	g_ptr_array_remove(loaded, m);
	g_message("Unloaded module %s", m->name);
	module_free(m);
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
			if (m->info->reload)
				m->info->reload(m);
		}
	} else {
		g_autofree char *base = base_name(name);
		AmiModule *m = base ? find_locked(base) : NULL;
		if (!m)
			r = -ENOENT;
		else if (!m->info->reload)
			r = -ENOTSUP;
		else
			m->info->reload(m);
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

static gboolean in_list(GPtrArray *list, const char *base)
{
	for (guint i = 0; i < list->len; i++) {
		g_autofree char *b = base_name(list->pdata[i]);
		if (b && g_ascii_strcasecmp(b, base) == 0)
			return TRUE;
	}
	return FALSE;
}

static void load_one_logged(const char *name)
{
	int r = ami_module_load(name);
	if (r && r != -EEXIST)
		g_warning("module %s not loaded: %s", name, g_strerror(-r));
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void amid_loader_load_startup(const AmidConfig *c)
{
	for (guint i = 0; i < c->load->len; i++) {
		g_autofree char *b = base_name(c->load->pdata[i]);
		if (b && in_list(c->noload, b))
			continue;
		load_one_logged(c->load->pdata[i]);
	}
	if (!c->autoload)
		return;

	g_autoptr(GDir) dir = g_dir_open(moduledir, 0, NULL);
	if (!dir) {
		g_warning("modules directory %s cannot be read", moduledir);
		return;
	}
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const char *entry;
	while ((entry = g_dir_read_name(dir)))
		if (g_str_has_suffix(entry, ".so"))
			g_ptr_array_add(names, g_strdup(entry));
	g_ptr_array_sort(names, compare_names);
	for (guint i = 0; i < names->len; i++) {
		g_autofree char *b = base_name(names->pdata[i]);
		if (b && !in_list(c->noload, b))
			load_one_logged(names->pdata[i]);
	}
}

void amid_loader_unload_all(void)
{
	g_mutex_lock(&lock);
	while (loaded && loaded->len) {
		AmiModule *m = loaded->pdata[loaded->len - 1];
		g_atomic_int_set(&m->stopping, 1);
		if (m->info->unload)
			m->info->unload(m);
		sweep(m);
		g_ptr_array_remove_index(loaded, loaded->len - 1);
		g_message("Unloaded module %s", m->name);
		module_free(m);
	}
	g_mutex_unlock(&lock);
}
