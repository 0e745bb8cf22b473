/*
 * mod_modules — module management over AMI.
 *
 * Provides ModuleLoad (load, unload or reload a module) and ModuleCheck
 * (is a module loaded, and which version).  Unlike Asterisk, ModuleLoad
 * always answers a request with exactly one reply.  Uses only the SDK.
 */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include <amid/amid.h>

static AmiModuleLoadResult load_module(AmiModule *self);
static int unload_module(AmiModule *self);

/* The module descriptor (see amid/module.h). */
AMI_MODULE_INFO("mod_modules", "Module management actions",
		.load = load_module, .unload = unload_module,
		.version = "1.0");

/* Load @name and answer with the outcome. */
static void do_load(AmiSession *s, const AmiMessage *m, const char *name)
{
	int rc = ami_module_load(name);

	switch (rc) {
	case 0:
		ami_send_ack(s, m, "Module loaded.");
		break;
	case -EPERM:
		ami_send_error(s, m,
			       "Module must be in the configured modules directory.");
		break;
	case -ENOENT:
		ami_send_error(s, m, "Module not found.");
		break;
	default:
		ami_send_error(s, m, "Could not load module.");
		break;
	}
}

/* Unload @name and answer with the outcome. */
static void do_unload(AmiSession *s, const AmiMessage *m, const char *name)
{
	int rc = ami_module_unload(name);

	switch (rc) {
	case 0:
		ami_send_ack(s, m, "Module unloaded.");
		break;
	case -ENOENT:
		ami_send_error(s, m, "No such module.");
		break;
	default:
		ami_send_error(s, m, "Could not unload module.");
		break;
	}
}

/* Reload @name, or every module when it is empty, and answer. */
static void do_reload(AmiSession *s, const AmiMessage *m, const char *name)
{
	int rc;

	if (!*name) {
		/* Everything, as Asterisk's ast_module_reload(NULL): the
		 * configuration file too. */
		g_autofree char *why = NULL;
		if (ami_core_reload_config(&why) != 0) {
			ami_send_error_va(s, m, "Configuration not reloaded: %s",
					  why);
			return;
		}
		ami_module_reload(NULL);
		ami_send_ack(s, m, "All modules reloaded");
		return;
	}
	rc = ami_module_reload(name);
	switch (rc) {
	case 0:
		ami_send_ack(s, m, "Module reloaded.");
		break;
	case -ENOENT:
		ami_send_error(s, m, "No such module.");
		break;
	case -ENOTSUP:
		ami_send_error(s, m, "Module does not support reload action.");
		break;
	default:
		ami_send_error(s, m, "An unknown error occurred");
		break;
	}
}

/* ModuleLoad: load, unload or reload a module; exactly one reply. */
static int action_moduleload(AmiSession *s, const AmiMessage *m)
{
	const char *type = ami_get_header(m, "LoadType");
	const char *name = ami_get_header(m, "Module");

	if (g_ascii_strcasecmp(type, "reload") == 0) {
		do_reload(s, m, name);
	} else if (g_ascii_strcasecmp(type, "load") == 0 ||
		   g_ascii_strcasecmp(type, "unload") == 0) {
		if (!*name)
			ami_send_error(s, m, "Need module name");
		else if (g_ascii_strcasecmp(type, "load") == 0)
			do_load(s, m, name);
		else
			do_unload(s, m, name);
	} else {
		ami_send_error(s, m, "Incomplete ModuleLoad action.");
	}
	return AMI_SUCCESS;
}

/* ModuleCheck: report whether a module is loaded, and its version. */
static int action_modulecheck(AmiSession *s, const AmiMessage *m)
{
	const char *name = ami_get_header(m, "Module");
	g_autofree char *version = NULL;

	if (!*name || !ami_module_is_loaded(name, &version)) {
		ami_send_error(s, m, "Module not loaded");
		return AMI_SUCCESS;
	}
	ami_send_start_ack(s, m);
	ami_append(s, "Version: %s\r\n\r\n", version ? version : "");
	return AMI_SUCCESS;
}

/* One action this module registers. */
struct action_def {
	const char *name;
	int authority;
	AmiActionHandler handler;
	const char *synopsis;
	const char *description;
};

static const struct action_def actions[] = {
	{ "ModuleLoad", AMI_EVENT_FLAG_SYSTEM, action_moduleload,
	  "Load, unload or reload a module.",
	  "LoadType: load, unload or reload; Module: the module's name "
	  "(empty with reload means every module)." },
	{ "ModuleCheck", AMI_EVENT_FLAG_SYSTEM, action_modulecheck,
	  "Tell whether a module is loaded, and its version.",
	  "Module: the module's name, with or without \".so\"." },
};

/* Unregister the first @n actions of the table. */
static void unregister_actions(size_t n)
{
	for (size_t i = 0; i < n; i++)
		ami_manager_unregister(actions[i].name);
}

/* Register every action; on any failure undo and refuse to load. */
static AmiModuleLoadResult load_module(AmiModule *self)
{
	for (size_t i = 0; i < G_N_ELEMENTS(actions); i++) {
		/* ModuleLoad may wait: a module's unload can need the I/O
		 * workers (mod_http waits for its sessions to close), so it
		 * runs on the blocking pool, never on a worker. */
		guint flags = !strcmp(actions[i].name, "ModuleLoad")
				      ? AMI_ACTION_BLOCKING
				      : 0;
		if (ami_manager_register_flags(actions[i].name,
					       actions[i].authority,
					       actions[i].handler,
					       AMI_MODULE_SELF,
					       actions[i].synopsis,
					       actions[i].description,
					       flags) != 0) {
			unregister_actions(i);
			return AMI_MODULE_LOAD_FAILURE;
		}
	}
	return AMI_MODULE_LOAD_SUCCESS;
}

/* Remove every action this module registered. */
static int unload_module(AmiModule *self)
{
	unregister_actions(G_N_ELEMENTS(actions));
	return 0;
}
