/*
 * mod_test_dep_a — the module mod_test_dep_b requires.  Action TestDepA
 * answers `Reloads: <n>`, the number of times its reload callback ran
 * (ModuleLoad reload of this module, or of every module).
 */
#include <glib.h>

#include <amid/amid.h>

static AmiModuleLoadResult load_module(AmiModule *self);
static int unload_module(AmiModule *self);
static int reload_module(AmiModule *self);

AMI_MODULE_INFO("mod_test_dep_a", "Test: required by mod_test_dep_b",
		.load = load_module, .unload = unload_module,
		.reload = reload_module, .version = "a-1");

static gint reloads;

/* TestDepA: how many reloads so far. */
static int action_testdepa(AmiSession *s, const AmiMessage *m)
{
	ami_send_start_ack(s, m);
	ami_append(s, "Reloads: %d\r\n\r\n", g_atomic_int_get(&reloads));
	return AMI_SUCCESS;
}

static AmiModuleLoadResult load_module(AmiModule *self)
{
	g_atomic_int_set(&reloads, 0);
	return ami_manager_register("TestDepA", 0, action_testdepa,
				    "Test: reload count of mod_test_dep_a.")
		       ? AMI_MODULE_LOAD_FAILURE
		       : AMI_MODULE_LOAD_SUCCESS;
}

static int unload_module(AmiModule *self)
{
	return ami_manager_unregister("TestDepA");
}

static int reload_module(AmiModule *self)
{
	g_message("mod_test_dep_a: reloaded (%d)",
		  g_atomic_int_add(&reloads, 1) + 1);
	return 0;
}
