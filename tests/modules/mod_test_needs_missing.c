/*
 * mod_test_needs_missing — requires mod_test_nonexistent, which no file
 * provides: it never loads, at start-up or through ModuleLoad.
 */
#include <glib.h>

#include <amid/amid.h>

static AmiModuleLoadResult load_module(AmiModule *self);

AMI_MODULE_INFO("mod_test_needs_missing",
		"Test: requires a module that does not exist",
		.load = load_module, .requires = "mod_test_nonexistent");

static AmiModuleLoadResult load_module(AmiModule *self)
{
	g_message("mod_test_needs_missing: loaded");
	return AMI_MODULE_LOAD_SUCCESS;
}
