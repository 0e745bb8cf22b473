/*
 * Test module: a session opened through amid/session.h.  The blocking
 * action TestVirtual opens one, submits Login (the Username/Secret headers
 * of the request), Ping and Logoff, waits until the session closes, and
 * answers with everything the session produced (CRLF written as "|").
 */
#include <amid/amid.h>

#include <string.h>

typedef struct {
	GMutex lock;
	GCond cond;
	GString *out;
	gboolean closed;
} Capture;

static void on_output(AmiVirtualSession *vs, GBytes *data, void *user_data)
{
	Capture *c = user_data;
	gsize len;
	const char *p = g_bytes_get_data(data, &len);
	g_mutex_lock(&c->lock);
	g_string_append_len(c->out, p, (gssize)len);
	g_mutex_unlock(&c->lock);
}

static void on_closed(AmiVirtualSession *vs, void *user_data)
{
	Capture *c = user_data;
	g_mutex_lock(&c->lock);
	c->closed = TRUE;
	g_cond_signal(&c->cond);
	g_mutex_unlock(&c->lock);
}

static int action_test_virtual(AmiSession *s, const AmiMessage *m)
{
	Capture c = {.out = g_string_new(NULL)};
	g_mutex_init(&c.lock);
	g_cond_init(&c.cond);
	const AmiSessionSink sink = {on_output, on_closed};
	AmiVirtualSession *vs = ami_virtual_session_open("127.0.0.1:1", &sink, &c);
	if (!vs) {
		ami_send_error(s, m, "open failed");
		g_string_free(c.out, TRUE);
		return AMI_SUCCESS;
	}
	g_autofree char *login = g_strdup_printf(
		"Action: Login\r\nUsername: %s\r\nSecret: %s\r\nEvents: off\r\n"
		"ActionID: v1",
		ami_get_header(m, "Username"), ami_get_header(m, "Secret"));
	ami_virtual_session_submit(vs, login);
	ami_virtual_session_submit(vs, "Action: Ping\nActionID: v2\n");
	ami_virtual_session_submit(vs, "Action: Logoff\r\nActionID: v3\r\n\r\n");
	gint64 until = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
	g_mutex_lock(&c.lock);
	while (!c.closed)
		if (!g_cond_wait_until(&c.cond, &c.lock, until))
			break;
	gboolean closed = c.closed;
	g_autofree char *text = g_strdup(c.out->str);
	g_mutex_unlock(&c.lock);
	int after = ami_virtual_session_submit(vs, "Action: Ping");
	ami_virtual_session_unref(vs);

	g_autoptr(GString) shown = g_string_new(NULL);
	for (const char *p = text; *p; p++) {
		if (p[0] == '\r' && p[1] == '\n') {
			g_string_append_c(shown, '|');
			p++;
		} else {
			g_string_append_c(shown, *p);
		}
	}
	ami_send_start_ack(s, m);
	ami_append(s, "Closed: %s\r\nSubmitAfterClose: %d\r\nOutput: %s\r\n\r\n",
		   closed ? "yes" : "no", after, shown->str);
	g_mutex_clear(&c.lock);
	g_cond_clear(&c.cond);
	g_string_free(c.out, TRUE);
	return AMI_SUCCESS;
}

static const AmiActionDef actions[] = {
	{"TestVirtual", AMI_EVENT_FLAG_SYSTEM, action_test_virtual,
	 "Test: run Login, Ping, Logoff in a module-opened session", NULL,
	 AMI_ACTION_BLOCKING},
	{NULL, 0, NULL, NULL, NULL, 0},
};

static AmiModuleLoadResult load_module(AmiModule *self)
{
	return ami_manager_register_table(self, actions) ? AMI_MODULE_LOAD_FAILURE
							 : AMI_MODULE_LOAD_SUCCESS;
}

static int unload_module(AmiModule *self)
{
	ami_manager_unregister_table(actions);
	return 0;
}

AMI_MODULE_INFO("mod_test_virtual", "Test: module-opened sessions",
		.load = load_module, .unload = unload_module);
