/*
 * mod_test_fail — a module whose load() registers an action (TestFail), a
 * hook and a timer and then reports failure.  The loader must refuse it
 * and remove all three: TestFail is never callable and never listed.
 */
#include <glib.h>

#include <amid/amid.h>

static AmiModuleLoadResult load_module(AmiModule *self);

AMI_MODULE_INFO("mod_test_fail", "Test: load() fails after registering",
		.load = load_module);

/* TestFail: must never be reachable. */
static int action_testfail(AmiSession *s, const AmiMessage *m)
{
	ami_send_ack(s, m, "mod_test_fail is loaded, which it must not be");
	return AMI_SUCCESS;
}

/* A hook that does nothing; it only has to be swept. */
static int on_event(int category, const char *event, const char *body,
		    void *data)
{
	return 0;
}

/* A timer that does nothing; it only has to be swept. */
static gboolean on_timer(void *data)
{
	return G_SOURCE_CONTINUE;
}

/* Register three things, then fail without undoing any of them. */
static AmiModuleLoadResult load_module(AmiModule *self)
{
	ami_manager_register("TestFail", 0, action_testfail,
			     "Test: must never be listed.");
	ami_hook_register(self, on_event, NULL, 0);
	ami_timer_add(self, 10, on_timer, NULL);
	g_message("mod_test_fail: registered an action, a hook and a "
		  "timer; now failing");
	return AMI_MODULE_LOAD_FAILURE;
}
