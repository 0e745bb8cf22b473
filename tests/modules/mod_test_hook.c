/*
 * mod_test_hook — a custom hook (ami_hook_register, write classes
 * system,user) that counts the events it sees, and runs actions through
 * ami_hook_send_action().
 *
 * TestHookCount: `Count: <events seen>` `LastEvent: <name of the latest>`.
 * TestHookPing: sends "Action: Ping\r\nActionID: h1\r\n" through the hook
 *   and answers `Result: <return value>` `HookResponse: <the reply text the
 *   hook received, CR LF written as "|">`.
 * TestHookSend: the same with the request given in the `Request` header,
 *   "|" standing for CR LF.
 * TestHookConfigOnly: needs the config write class, which the hook lacks:
 *   sent through the hook it must be refused (-EPERM).
 */
#include <string.h>

#include <glib.h>

#include <amid/amid.h>

static AmiModuleLoadResult load_module(AmiModule *self);
static int unload_module(AmiModule *self);

AMI_MODULE_INFO("mod_test_hook", "Test: custom hook", .load = load_module,
		.unload = unload_module);

static AmiHook *hook;
static gint events_seen;
static GMutex last_lock;
static char *last_event;

/*
 * The HookResponse of the action this thread sent: the hook is called
 * synchronously, in the sending thread, before ami_hook_send_action()
 * returns.
 */
static _Thread_local char *captured;

static int on_event(int category, const char *event, const char *body,
		    void *data)
{
	if (category == AMI_EVENT_FLAG_HOOKRESPONSE &&
	    strcmp(event, "HookResponse") == 0) {
		g_free(captured);
		captured = g_strdup(body);
		return 0;
	}
	g_atomic_int_inc(&events_seen);
	g_mutex_lock(&last_lock);
	g_free(last_event);
	last_event = g_strdup(event);
	g_mutex_unlock(&last_lock);
	return 0;
}

/* TestHookCount: events seen so far and the name of the latest. */
static int action_testhookcount(AmiSession *s, const AmiMessage *m)
{
	g_mutex_lock(&last_lock);
	g_autofree char *last = g_strdup(last_event ? last_event : "");
	g_mutex_unlock(&last_lock);
	ami_send_start_ack(s, m);
	ami_append(s, "Count: %d\r\nLastEvent: %s\r\n\r\n",
		   g_atomic_int_get(&events_seen), last);
	return AMI_SUCCESS;
}

/* Send @request through the hook; answer with the result and reply text. */
static void send_through_hook(AmiSession *s, const AmiMessage *m,
			      const char *request)
{
	g_clear_pointer(&captured, g_free);
	int rc = ami_hook_send_action(hook, request);
	g_autofree char *text = g_steal_pointer(&captured);
	GString *flat = g_string_new(NULL);

	for (const char *p = text ? text : ""; *p; p++) {
		if (p[0] == '\r' && p[1] == '\n') {
			g_string_append_c(flat, '|');
			p++;
		} else if (*p == '\r' || *p == '\n') {
			g_string_append_c(flat, '|');
		} else {
			g_string_append_c(flat, *p);
		}
	}
	ami_send_start_ack(s, m);
	ami_append(s, "Result: %d\r\nHookResponse: %s\r\n\r\n", rc, flat->str);
	g_string_free(flat, TRUE);
}

/* TestHookPing: a Ping through the hook. */
static int action_testhookping(AmiSession *s, const AmiMessage *m)
{
	send_through_hook(s, m, "Action: Ping\r\nActionID: h1\r\n");
	return AMI_SUCCESS;
}

/* TestHookSend: the `Request` header ("|" = CR LF) through the hook. */
static int action_testhooksend(AmiSession *s, const AmiMessage *m)
{
	g_auto(GStrv) parts = g_strsplit(ami_get_header(m, "Request"), "|", -1);
	g_autofree char *request = g_strjoinv("\r\n", parts);

	send_through_hook(s, m, request);
	return AMI_SUCCESS;
}

/* TestHookConfigOnly: ack (only users with write class config get here). */
static int action_testhookconfigonly(AmiSession *s, const AmiMessage *m)
{
	ami_send_ack(s, m, "Config class");
	return AMI_SUCCESS;
}

static const AmiActionDef actions[] = {
	{ .name = "TestHookCount", .handler = action_testhookcount,
	  .synopsis = "Test: events the hook has seen." },
	{ .name = "TestHookPing", .handler = action_testhookping,
	  .synopsis = "Test: Ping through the hook." },
	{ .name = "TestHookSend", .handler = action_testhooksend,
	  .synopsis = "Test: any request through the hook." },
	{ .name = "TestHookConfigOnly", .handler = action_testhookconfigonly,
	  .authority = AMI_EVENT_FLAG_CONFIG,
	  .synopsis = "Test: needs write class config." },
	{ .name = NULL },
};

static AmiModuleLoadResult load_module(AmiModule *self)
{
	g_atomic_int_set(&events_seen, 0);
	hook = ami_hook_register(self, on_event, NULL,
				 AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_USER);
	if (!hook)
		return AMI_MODULE_LOAD_FAILURE;
	if (ami_manager_register_table(self, actions) != 0) {
		ami_hook_unregister(hook);
		hook = NULL;
		return AMI_MODULE_LOAD_FAILURE;
	}
	return AMI_MODULE_LOAD_SUCCESS;
}

static int unload_module(AmiModule *self)
{
	ami_manager_unregister_table(actions);
	ami_hook_unregister(hook);
	hook = NULL;
	g_mutex_lock(&last_lock);
	g_clear_pointer(&last_event, g_free);
	g_mutex_unlock(&last_lock);
	return 0;
}
