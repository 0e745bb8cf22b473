/*
 * mod_example — a small, complete third-party module for amid.
 *
 * It shows the whole module life cycle with nothing but the public SDK:
 *
 *   ExampleEcho   an action that echoes the request's `Text:` header (and its
 *                 `Variable:` items) back in the response;
 *   ExampleCount  an action that counts how often *this session* called it,
 *                 with the counter kept in a session datastore that is freed
 *                 by a destroy callback when the session ends;
 *   ExampleTick   an event of class `user`, raised from a timer every N
 *                 seconds with a running counter (N = $AMID_EXAMPLE_TICK,
 *                 default 5).
 *
 * Build it out of tree against an installed amid:
 *
 *     cc $(pkg-config --cflags --libs amid) -shared -fPIC \
 *        -o mod_example.so mod_example.c
 *
 * then copy mod_example.so into amid's modules directory and load it with
 * the ModuleLoad action (LoadType: load, Module: mod_example) or by listing
 * "mod_example.so" in modules.load of amid.conf.
 *
 * See doc/writing-modules.md for the rules this file follows.
 */

/* Log messages of this module carry its name (before any GLib include). */
#define G_LOG_DOMAIN "mod_example"

#include <stdlib.h>

#include <amid/amid.h>

/* Interval of the ExampleTick timer when $AMID_EXAMPLE_TICK is not set. */
#define TICK_DEFAULT_SECONDS 5

static AmiModuleLoadResult load_module(AmiModule *self);
static int unload_module(AmiModule *self);
static int reload_module(AmiModule *self);

/*
 * The descriptor: the one symbol this shared object exports.  The name must
 * equal the file name without ".so".  `requires` makes the loader refuse us
 * unless mod_core (Ping, Events, ListCommands, ...) is loaded first, and
 * keeps mod_core from being unloaded while we are.
 */
AMI_MODULE_INFO("mod_example", "Example actions, datastore and timer event",
		.load = load_module, .unload = unload_module,
		.reload = reload_module, .version = "1.0",
		.requires = "mod_core");

/* ------------------------------------------------------------ ExampleEcho */

/*
 * ExampleEcho: answer `Echo: <Text>`, then one `Variable-<name>: <value>`
 * line per `Variable:` item of the request.
 *
 * Runs on the session's I/O thread: it must answer quickly and not block.
 */
static int action_echo(AmiSession *s, const AmiMessage *m)
{
	/* Never NULL: "" when the header is absent. */
	const char *text = ami_get_header(m, "Text");
	g_autoptr(GPtrArray) vars = NULL;

	if (!*text) {
		ami_send_error(s, m, "Missing Text header");
		return AMI_SUCCESS;
	}

	/* Every `Variable: a=1,b=2` item, in request order (transfer full). */
	vars = ami_get_variables(m);

	/*
	 * start_ack writes `Response: Success` and the ActionID; we append
	 * our fields and must end the block with an empty line ("\r\n").
	 */
	ami_send_start_ack(s, m);
	ami_append(s, "Echo: %s\r\n", text);
	for (guint i = 0; i < vars->len; i++) {
		const AmiVariable *v = g_ptr_array_index(vars, i);

		ami_append(s, "Variable-%s: %s\r\n", v->name, v->value);
	}
	ami_append(s, "\r\n");
	return AMI_SUCCESS;
}

/* ----------------------------------------------------------- ExampleCount */

/* The per-session state kept in the datastore. */
struct counter {
	guint64 calls;
};

/*
 * Frees a counter.  The core calls it once, on the session's I/O thread,
 * when the session closes, or when this module is unloaded while the
 * session still holds the datastore.
 */
static void counter_destroy(void *data)
{
	g_free(data);
}

/* The datastore type: a unique name and its destroy callback. */
static const AmiDatastoreInfo counter_info = {
	.type = "mod_example/counter",
	.destroy = counter_destroy,
};

/* ExampleCount: `Count: <n>`, the number of calls made by this session. */
static int action_count(AmiSession *s, const AmiMessage *m)
{
	AmiDatastore *ds = ami_session_datastore_find(s, &counter_info, NULL);
	struct counter *c;

	if (!ds) {
		/* First call of this session: attach a fresh counter. */
		ds = ami_datastore_alloc(&counter_info, NULL);
		ds->data = g_new0(struct counter, 1);
		ami_session_datastore_add(s, ds); /* the session owns it now */
	}
	c = ds->data;
	c->calls++;

	ami_send_start_ack(s, m);
	ami_append(s, "Count: %" G_GUINT64_FORMAT "\r\n\r\n", c->calls);
	return AMI_SUCCESS;
}

/* ------------------------------------------------------------ ExampleTick */

/*
 * Timer state.  The timer callback runs on the daemon's main thread; load,
 * unload and reload are serialised by the core, so no lock is needed.
 */
static guint tick_timer; /* id from ami_timer_add(), 0 when stopped */
static guint64 tick_count; /* ExampleTick events raised so far */

/* Raise one ExampleTick.  Returning TRUE keeps the timer running. */
static gboolean on_tick(void *data G_GNUC_UNUSED)
{
	tick_count++;
	/* Delivered to every session that may read class `user`. */
	ami_manager_event(AMI_EVENT_FLAG_USER, "ExampleTick",
			  "Count: %" G_GUINT64_FORMAT "\r\n", tick_count);
	return TRUE;
}

/* Seconds between ticks: $AMID_EXAMPLE_TICK when it is a positive number. */
static guint tick_seconds(void)
{
	const char *env = g_getenv("AMID_EXAMPLE_TICK");
	char *end = NULL;
	long v;

	if (!env || !*env)
		return TICK_DEFAULT_SECONDS;
	v = strtol(env, &end, 10);
	if (*end || v <= 0 || v > 86400) {
		g_warning("AMID_EXAMPLE_TICK='%s' is not a number of seconds "
			  "(1-86400); using %d",
			  env, TICK_DEFAULT_SECONDS);
		return TICK_DEFAULT_SECONDS;
	}
	return (guint)v;
}

/* (Re)start the tick timer with the configured interval. */
static gboolean start_ticks(void)
{
	guint seconds = tick_seconds();

	if (tick_timer)
		ami_timer_remove(tick_timer);
	tick_timer = ami_timer_add(AMI_MODULE_SELF, seconds * 1000, on_tick,
				   NULL);
	if (!tick_timer)
		return FALSE;
	g_message("ExampleTick every %u s", seconds);
	return TRUE;
}

/* --------------------------------------------------------------- life cycle */

/* The actions, registered and unregistered as one table. */
static const AmiActionDef actions[] = {
	{ .name = "ExampleEcho",
	  .authority = AMI_EVENT_FLAG_USER,
	  .handler = action_echo,
	  .synopsis = "Echo the Text header back.",
	  .description = "Text: what to echo (required).  Variable: name=value "
			 "items are echoed as Variable-<name> fields." },
	{ .name = "ExampleCount",
	  .authority = 0, /* any logged-in user */
	  .handler = action_count,
	  .synopsis = "Count this session's calls.",
	  .description = "Answers Count: the number of ExampleCount calls made "
			 "by this session so far, this one included." },
	{ .name = NULL }, /* end of table */
};

static AmiModuleLoadResult load_module(AmiModule *self)
{
	tick_count = 0;
	/* All or nothing: on error nothing of the table stays registered. */
	if (ami_manager_register_table(self, actions) != 0)
		return AMI_MODULE_LOAD_FAILURE;
	if (!start_ticks()) {
		ami_manager_unregister_table(actions);
		return AMI_MODULE_LOAD_FAILURE;
	}
	return AMI_MODULE_LOAD_SUCCESS;
}

static int unload_module(AmiModule *self G_GNUC_UNUSED)
{
	/* Undo everything load_module() did. */
	if (tick_timer) {
		ami_timer_remove(tick_timer);
		tick_timer = 0;
	}
	ami_manager_unregister_table(actions);
	/*
	 * Counters still attached to open sessions cannot be reached from
	 * here; the core frees them (through counter_destroy) after we
	 * return, and keeps this code mapped until it has.
	 */
	return 0;
}

/* ModuleLoad with LoadType: reload -- re-read $AMID_EXAMPLE_TICK. */
static int reload_module(AmiModule *self G_GNUC_UNUSED)
{
	return start_ticks() ? 0 : -1;
}
