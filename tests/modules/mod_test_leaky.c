/*
 * mod_test_leaky — a module that leaks on purpose.  load() registers the
 * action TestLeaky, a hook and a timer; TestLeaky attaches a datastore to
 * the calling session; unload() removes nothing.  The core must sweep all
 * of it at unload (logging a warning for each kind), free the datastores
 * through their destroy callback, and keep the sessions working.
 *
 * Observable from a client:
 * - TestLeaky answers `Response: Success` `Message: Datastore added`
 *   `Datastores: <n on this session>`;
 * - the datastore's destroy callback logs and raises the event
 *   TestLeakyFreed (class user) with `Calls: <n>`;
 * - the timer raises TestLeakyTick (class user) every 100 ms.
 */
#include <glib.h>

#include <amid/amid.h>

static AmiModuleLoadResult load_module(AmiModule *self);
static int unload_module(AmiModule *self);

AMI_MODULE_INFO("mod_test_leaky", "Test: leaves everything registered",
		.load = load_module, .unload = unload_module);

/* The session datastore: how many TestLeaky calls the session made. */
typedef struct {
	int calls;
} LeakyData;

/* Runs when the session closes or when the core sweeps the module. */
static void leaky_destroy(void *data)
{
	LeakyData *d = data;

	g_message("mod_test_leaky: datastore freed after %d call(s)",
		  d->calls);
	ami_manager_event(AMI_EVENT_FLAG_USER, "TestLeakyFreed",
			  "Calls: %d\r\n", d->calls);
	g_free(d);
}

static const AmiDatastoreInfo leaky_info = {
	.type = "mod_test_leaky/calls",
	.destroy = leaky_destroy,
};

static gint events_seen;

/* TestLeaky: count the call in a (new or existing) session datastore. */
static int action_testleaky(AmiSession *s, const AmiMessage *m)
{
	AmiDatastore *ds = ami_session_datastore_find(s, &leaky_info, NULL);

	if (!ds) {
		ds = ami_datastore_alloc(&leaky_info, NULL);
		ds->data = g_new0(LeakyData, 1);
		ami_session_datastore_add(s, ds);
	}
	((LeakyData *)ds->data)->calls++;
	ami_send_start_ack(s, m);
	ami_append(s, "Message: Datastore added\r\nCalls: %d\r\n\r\n",
		   ((LeakyData *)ds->data)->calls);
	return AMI_SUCCESS;
}

/* The leaked hook: counts events. */
static int on_event(int category, const char *event, const char *body,
		    void *data)
{
	g_atomic_int_inc(&events_seen);
	return 0;
}

/* The leaked timer: a tick event every 100 ms. */
static gboolean on_timer(void *data)
{
	ami_manager_event(AMI_EVENT_FLAG_USER, "TestLeakyTick", "Seen: %d\r\n",
			  g_atomic_int_get(&events_seen));
	return G_SOURCE_CONTINUE;
}

static AmiModuleLoadResult load_module(AmiModule *self)
{
	if (ami_manager_register("TestLeaky", 0, action_testleaky,
				 "Test: add a session datastore.") != 0)
		return AMI_MODULE_LOAD_FAILURE;
	ami_hook_register(self, on_event, NULL, 0);
	ami_timer_add(self, 100, on_timer, NULL);
	return AMI_MODULE_LOAD_SUCCESS;
}

/* Deliberately undoes nothing: the core has to clean up. */
static int unload_module(AmiModule *self)
{
	g_message("mod_test_leaky: unloading without unregistering anything");
	return 0;
}
