/*
 * mod_test_compat — Asterisk manager code, ported.  Written only against
 * <amid/asterisk-compat.h>: every name below is Asterisk's (struct
 * mansession, astman_get_header, ast_manager_register2, manager_event,
 * datastores, AST_MODULE_INFO_STANDARD, load_module(void) …), so it shows
 * what an Asterisk manager module needs to build as an amid module: the
 * include line and the AST_MODULE define.
 *
 * CompatEcho: `Value: <the Value header>` in a start_ack response, then
 *   the event CompatEcho (class user) carrying the same value.
 * CompatCounter: `Counter: <n>`, the number of CompatCounter calls on this
 *   session, kept in a session datastore; `Reset: yes` removes it first.
 */
#define AST_MODULE "mod_test_compat"

#include <stdlib.h>

#include <amid/asterisk-compat.h>

/* Per-session state, freed by the datastore's destroy callback. */
struct counter_state {
	int count;
};

static void counter_destroy(void *data)
{
	free(data);
}

static const struct ast_datastore_info counter_info = {
	.type = "compat-counter",
	.destroy = counter_destroy,
};

static int action_compatecho(struct mansession *s, const struct message *m)
{
	const char *value = astman_get_header(m, "Value");

	if (ast_strlen_zero(value)) {
		astman_send_error(s, m, "Value not specified");
		return 0;
	}
	astman_start_ack(s, m);
	astman_append(s, "Value: %s\r\n\r\n", value);
	manager_event(EVENT_FLAG_USER, "CompatEcho", "Value: %s\r\n", value);
	return 0;
}

static int action_compatcounter(struct mansession *s, const struct message *m)
{
	struct ast_datastore *datastore;
	struct counter_state *state;

	datastore = astman_datastore_find(s, &counter_info, NULL);
	if (datastore && ast_true(astman_get_header(m, "Reset"))) {
		astman_datastore_remove(s, datastore);
		ast_datastore_free(datastore);
		datastore = NULL;
	}
	if (!datastore) {
		datastore = ast_datastore_alloc(&counter_info, NULL);
		if (!datastore) {
			astman_send_error(s, m, "Out of memory");
			return 0;
		}
		datastore->data = calloc(1, sizeof(struct counter_state));
		astman_datastore_add(s, datastore);
	}
	state = datastore->data;
	state->count++;
	astman_start_ack(s, m);
	astman_append(s, "Counter: %d\r\n\r\n", state->count);
	return 0;
}

static int unload_module(void)
{
	ast_manager_unregister("CompatEcho");
	ast_manager_unregister("CompatCounter");
	return 0;
}

static int load_module(void)
{
	int res = 0;

	res |= ast_manager_register2("CompatEcho", EVENT_FLAG_USER,
				     action_compatecho, ast_module_info->self,
				     "Echo a value", NULL);
	res |= ast_manager_register_xml("CompatCounter", 0,
					action_compatcounter);
	if (res) {
		unload_module();
		return AST_MODULE_LOAD_DECLINE;
	}
	return AST_MODULE_LOAD_SUCCESS;
}

AST_MODULE_INFO_STANDARD(ASTERISK_GPL_KEY, "Asterisk-style manager actions");
