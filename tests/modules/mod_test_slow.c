/*
 * mod_test_slow — a blocking action for unload-while-running tests.
 *
 * TestSlow (registered AMI_ACTION_BLOCKING, so it runs on the thread pool)
 * raises the event TestSlowStarted (class user, with the request's
 * ActionID), sleeps `Seconds` seconds (default 2, 0 allowed, at most 30)
 * and acks "Slept".  TestFast acks at once on the I/O worker.
 * No reload callback: ModuleLoad reload answers "Module does not support
 * reload action.".
 */
#include <stdlib.h>

#include <glib.h>

#include <amid/amid.h>

static AmiModuleLoadResult load_module(AmiModule *self);
static int unload_module(AmiModule *self);

AMI_MODULE_INFO("mod_test_slow", "Test: slow (blocking) and fast actions",
		.load = load_module, .unload = unload_module,
		.version = "slow-1");

/* TestSlow: sleep `Seconds` (default 2), then ack. */
static int action_testslow(AmiSession *s, const AmiMessage *m)
{
	const char *arg = ami_get_header(m, "Seconds");
	double seconds = *arg ? g_ascii_strtod(arg, NULL) : 2.0;

	if (seconds < 0 || seconds > 30) {
		ami_send_error(s, m, "Seconds must be between 0 and 30");
		return AMI_SUCCESS;
	}
	ami_manager_event(AMI_EVENT_FLAG_USER, "TestSlowStarted",
			  "ActionID: %s\r\nSeconds: %s\r\n",
			  ami_get_header(m, "ActionID"), arg);
	if (seconds > 0)
		g_usleep((gulong)(seconds * G_USEC_PER_SEC));
	ami_send_ack(s, m, "Slept");
	return AMI_SUCCESS;
}

/* TestFast: ack at once. */
static int action_testfast(AmiSession *s, const AmiMessage *m)
{
	ami_send_ack(s, m, "Fast");
	return AMI_SUCCESS;
}

static const AmiActionDef actions[] = {
	{ .name = "TestSlow", .handler = action_testslow,
	  .synopsis = "Test: sleep Seconds (default 2), then ack.",
	  .flags = AMI_ACTION_BLOCKING },
	{ .name = "TestFast", .handler = action_testfast,
	  .synopsis = "Test: ack at once." },
	{ .name = NULL },
};

static AmiModuleLoadResult load_module(AmiModule *self)
{
	return ami_manager_register_table(self, actions) == 0
		       ? AMI_MODULE_LOAD_SUCCESS
		       : AMI_MODULE_LOAD_FAILURE;
}

static int unload_module(AmiModule *self)
{
	return ami_manager_unregister_table(actions);
}
