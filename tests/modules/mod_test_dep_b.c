/*
 * mod_test_dep_b — requires mod_test_dep_a: it cannot load without it, and
 * while it is loaded mod_test_dep_a cannot be unloaded.  Action TestDepB.
 */
#include <glib.h>

#include <amid/amid.h>

static AmiModuleLoadResult load_module(AmiModule *self);
static int unload_module(AmiModule *self);

AMI_MODULE_INFO("mod_test_dep_b", "Test: requires mod_test_dep_a",
		.load = load_module, .unload = unload_module,
		.requires = "mod_test_dep_a", .version = "b-1");

/* TestDepB: ack. */
static int action_testdepb(AmiSession *s, const AmiMessage *m)
{
	ami_send_ack(s, m, "dep_b here");
	return AMI_SUCCESS;
}

static AmiModuleLoadResult load_module(AmiModule *self)
{
	return ami_manager_register("TestDepB", 0, action_testdepb,
				    "Test: mod_test_dep_b is loaded.")
		       ? AMI_MODULE_LOAD_FAILURE
		       : AMI_MODULE_LOAD_SUCCESS;
}

static int unload_module(AmiModule *self)
{
	return ami_manager_unregister("TestDepB");
}
