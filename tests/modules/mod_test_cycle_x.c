/*
 * mod_test_cycle_x — requires mod_test_cycle_y, which requires this one:
 * a dependency cycle.  Neither may load at start-up, and the daemon still
 * boots.
 */
#include <glib.h>

#include <amid/amid.h>

static AmiModuleLoadResult load_module(AmiModule *self);

AMI_MODULE_INFO("mod_test_cycle_x", "Test: half of a dependency cycle",
		.load = load_module, .requires = "mod_test_cycle_y");

static AmiModuleLoadResult load_module(AmiModule *self)
{
	g_message("mod_test_cycle_x: loaded");
	return AMI_MODULE_LOAD_SUCCESS;
}
