/*
 * mod_core — the everyday manager actions of amid.
 *
 * Provides Ping, Events, ListCommands, UserEvent, CoreSettings, CoreStatus,
 * WaitEvent, Filter, Reload and Command.  Uses only the SDK (<amid/amid.h>);
 * the wire strings follow the AMI reference (ami-wire-behaviour.md,
 * sections 3 and 4).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <glib.h>

#include <amid/amid.h>

/* Largest buffer tried for getpwuid_r()/getgrgid_r() before giving up. */
#define NAME_BUF_MAX (1024 * 1024)

static AmiModuleLoadResult load_module(AmiModule *self);
static int unload_module(AmiModule *self);

/* The module descriptor (see amid/module.h). */
AMI_MODULE_INFO("mod_core", "Core manager actions", .load = load_module,
		.unload = unload_module, .version = "1.0");

/* Ping: answer with Pong and the current time. */
static int action_ping(AmiSession *s, const AmiMessage *m)
{
	gint64 now = g_get_real_time();

	ami_send_start_ack(s, m);
	ami_append(s,
		   "Ping: Pong\r\n"
		   "Timestamp: %" G_GINT64_FORMAT ".%06" G_GINT64_FORMAT
		   "\r\n\r\n",
		   now / G_USEC_PER_SEC, now % G_USEC_PER_SEC);
	return AMI_SUCCESS;
}

/* Events: set the event classes the session asks to receive. */
static int action_events(AmiSession *s, const AmiMessage *m)
{
	int mask = ami_parse_event_mask(ami_get_header(m, "EventMask"));

	if (mask == -1) {
		ami_send_error(s, m, "Invalid event mask");
		return AMI_SUCCESS;
	}
	ami_session_set_event_mask(s, mask);
	ami_send_start_ack(s, m);
	ami_append(s, "Events: %s\r\n\r\n", mask > 0 ? "On" : "Off");
	return AMI_SUCCESS;
}

/* State shared with list_one_action() while ListCommands walks the actions. */
struct list_ctx {
	GString *text;
	int writeperm;
};

/* Add one action to the ListCommands text if the session may run it. */
static void list_one_action(const AmiActionInfo *info, void *data)
{
	struct list_ctx *ctx = data;
	g_autofree char *priv = NULL;

	if (info->authority != 0 && !(ctx->writeperm & info->authority))
		return;
	priv = ami_authority_to_str(info->authority);
	g_string_append_printf(ctx->text, "%s: %s  (Priv: %s)\r\n", info->name,
			       info->synopsis ? info->synopsis : "", priv);
}

/* ListCommands: one line per action the session is allowed to run. */
static int action_listcommands(AmiSession *s, const AmiMessage *m)
{
	g_autoptr(GString) text = g_string_new(NULL);
	struct list_ctx ctx = {
		.text = text,
		.writeperm = ami_session_writeperm(s),
	};

	ami_manager_foreach_action(list_one_action, &ctx);
	g_string_append(text, "\r\n");
	ami_send_start_ack(s, m);
	ami_append(s, "%s", text->str);
	return AMI_SUCCESS;
}

/* Is @line a header named exactly @name (case-insensitive) plus ':'? */
static gboolean line_has_name(const char *line, const char *name)
{
	size_t len = strlen(name);

	return g_ascii_strncasecmp(line, name, len) == 0 && line[len] == ':';
}

/* UserEvent: acknowledge, then broadcast the request's lines as an event. */
static int action_userevent(AmiSession *s, const AmiMessage *m)
{
	g_autoptr(GString) body = g_string_new(NULL);
	guint count = ami_message_line_count(m);

	g_string_append_printf(body, "UserEvent: %s\r\n",
			       ami_get_header(m, "UserEvent"));
	for (guint i = 0; i < count; i++) {
		const char *line = ami_message_line(m, i);

		if (!line || line_has_name(line, "UserEvent") ||
		    line_has_name(line, "Action"))
			continue;
		g_string_append(body, line);
		g_string_append(body, "\r\n");
	}

	ami_send_ack(s, m, "Event Sent");
	ami_manager_event(AMI_EVENT_FLAG_USER, "UserEvent", "%s", body->str);
	return AMI_SUCCESS;
}

/* Name of the effective user (user == TRUE) or group, "" when unknown. */
static char *run_identity_name(gboolean user)
{
	size_t size = 1024;

	for (;;) {
		g_autofree char *buf = g_malloc(size);
		int rc;

		if (user) {
			struct passwd pw, *res = NULL;

			rc = getpwuid_r(geteuid(), &pw, buf, size, &res);
			if (rc == 0 && res)
				return g_strdup(res->pw_name);
		} else {
			struct group gr, *res = NULL;

			rc = getgrgid_r(getegid(), &gr, buf, size, &res);
			if (rc == 0 && res)
				return g_strdup(res->gr_name);
		}
		if (rc != ERANGE || size >= NAME_BUF_MAX)
			return g_strdup("");
		size *= 2;
	}
}

/* CoreSettings: versions, system name and process limits. */
static int action_coresettings(AmiSession *s, const AmiMessage *m)
{
	g_autofree char *run_user = run_identity_name(TRUE);
	g_autofree char *run_group = run_identity_name(FALSE);
	unsigned long long max_files = 0;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		max_files = (unsigned long long)rl.rlim_cur;

	ami_send_start_ack(s, m);
	ami_append(s,
		   "AMIversion: %s\r\n"
		   "AsteriskVersion: %s\r\n"
		   "SystemName: %s\r\n"
		   "CoreMaxCalls: %d\r\n"
		   "CoreMaxLoadAvg: %f\r\n"
		   "CoreRunUser: %s\r\n"
		   "CoreRunGroup: %s\r\n"
		   "CoreMaxFilehandles: %llu\r\n"
		   "CoreRealTimeEnabled: %s\r\n"
		   "CoreCDRenabled: %s\r\n"
		   "CoreHTTPenabled: %s\r\n"
		   "\r\n",
		   ami_core_ami_version(), ami_core_version(),
		   ami_core_system_name(), 0, 0.0, run_user, run_group,
		   max_files, "No", "No", "No");
	return AMI_SUCCESS;
}

/* Local date (YYYY-MM-DD) and time (HH:MM:SS) of @usec µs since the epoch. */
static void format_local_time(gint64 usec, char **date_out, char **time_out)
{
	g_autoptr(GDateTime) dt =
		g_date_time_new_from_unix_local(usec / G_USEC_PER_SEC);

	*date_out = dt ? g_date_time_format(dt, "%Y-%m-%d") : NULL;
	*time_out = dt ? g_date_time_format(dt, "%H:%M:%S") : NULL;
}

/* CoreStatus: start-up and last reload times, call counters. */
static int action_corestatus(AmiSession *s, const AmiMessage *m)
{
	g_autofree char *start_date = NULL;
	g_autofree char *start_time = NULL;
	g_autofree char *reload_date = NULL;
	g_autofree char *reload_time = NULL;

	format_local_time(ami_core_startup_time(), &start_date, &start_time);
	format_local_time(ami_core_reload_time(), &reload_date, &reload_time);

	ami_send_start_ack(s, m);
	ami_append(s,
		   "CoreStartupDate: %s\r\n"
		   "CoreStartupTime: %s\r\n"
		   "CoreReloadDate: %s\r\n"
		   "CoreReloadTime: %s\r\n"
		   "CoreCurrentCalls: %d\r\n"
		   "CoreProcessedCalls: %d\r\n"
		   "\r\n",
		   start_date ? start_date : "", start_time ? start_time : "",
		   reload_date ? reload_date : "",
		   reload_time ? reload_time : "", 0, 0);
	return AMI_SUCCESS;
}

/* WaitEvent: block this session until an event arrives or Timeout passes. */
static int action_waitevent(AmiSession *s, const AmiMessage *m)
{
	const char *value = ami_get_header(m, "Timeout");
	int timeout = -1;

	if (*value) {
		char *end = NULL;
		long v;

		v = strtol(value, &end, 0);
		if (end != value) {
			if (v > INT_MAX)
				v = INT_MAX;
			timeout = v < -1 ? -1 : (int)v;
		}
	}
	return ami_session_wait_event(s, m, timeout);
}

/* Filter: Operation: Add, Filter: <regex> or !<regex>. */
static int action_filter(AmiSession *s, const AmiMessage *m)
{
	if (g_ascii_strcasecmp(ami_get_header(m, "Operation"), "Add") != 0) {
		ami_send_error(s, m, "Unknown operation");
		return AMI_SUCCESS;
	}
	const char *filter = ami_get_header(m, "Filter");
	if (!*filter || !strcmp(filter, "!")) {
		ami_send_error(s, m, "Filter was formatted incorrectly.  "
				     "Check the syntax of the filter given.");
		return AMI_SUCCESS;
	}
	if (ami_session_add_filter(s, filter, NULL) != 0) {
		ami_send_error(s, m, "Filter did not compile.  Check the "
				     "syntax of the filter given.");
		return AMI_SUCCESS;
	}
	ami_send_ack(s, m, "Success");
	return AMI_SUCCESS;
}

/* Reload: the configuration and every module, or one module. */
static int action_reload(AmiSession *s, const AmiMessage *m)
{
	const char *module = ami_get_header(m, "Module");
	if (*module) {
		switch (ami_module_reload(module)) {
		case 0:
			ami_send_ack(s, m, "Module Reloaded");
			break;
		case -ENOENT:
			ami_send_error(s, m, "No such module");
			break;
		case -ENOTSUP:
			ami_send_error(s, m, "Module does not support reload");
			break;
		default:
			ami_send_error(s, m, "An unknown error occurred");
		}
		return AMI_SUCCESS;
	}
	g_autofree char *why = NULL;
	if (ami_core_reload_config(&why) != 0) {
		ami_send_error_va(s, m, "Configuration not reloaded: %s", why);
		return AMI_SUCCESS;
	}
	ami_module_reload(NULL);
	ami_send_ack(s, m, "Module Reloaded");
	return AMI_SUCCESS;
}

/*
 * Command: is @cmd one of the CLI commands AMI may not run?  Asterisk's
 * blacklist: the first words, case-insensitive, extra blanks ignored.
 */
static gboolean command_blacklisted(const char *cmd)
{
	static const char *const blacklist[][2] = {
		{ "module", "load" },
		{ "module", "unload" },
		{ "restart", "gracefully" },
	};
	g_auto(GStrv) words = g_strsplit_set(cmd, " \t", -1);
	const char *first[2] = { NULL, NULL };
	int n = 0;

	for (char **w = words; *w && n < 2; w++)
		if (**w)
			first[n++] = *w;
	if (n < 2)
		return FALSE;
	for (gsize i = 0; i < G_N_ELEMENTS(blacklist); i++)
		if (!g_ascii_strcasecmp(first[0], blacklist[i][0]) &&
		    !g_ascii_strcasecmp(first[1], blacklist[i][1]))
			return TRUE;
	return FALSE;
}

/*
 * The reply format of Command follows the AMI version in the banner:
 * Asterisk up to 13 (AMI 1.x) answered "Response: Follows" ending in
 * "--END COMMAND--"; 14 on answer Success/Error with "Output:" lines.
 */
static gboolean command_old_format(void)
{
	return atoi(ami_core_ami_version()) < 2;
}

/* Command: run a CLI command and return its output. */
static int action_command(AmiSession *s, const AmiMessage *m)
{
	const char *cmd = ami_get_header(m, "Command");
	g_autofree char *output = NULL;
	g_autofree char *id = NULL;
	char *line;
	size_t len;
	int rc;

	if (!*cmd) {
		ami_send_error(s, m, "No command provided");
		return AMI_SUCCESS;
	}
	if (command_blacklisted(cmd)) {
		ami_send_error(s, m, "Command blacklisted");
		return AMI_SUCCESS;
	}
	rc = ami_cli_command(cmd, &output);
	/* No CR in the text: it could not then end the reply early. */
	for (char *r = output, *w = output;; r++) {
		if (*r != '\r')
			*w++ = *r;
		if (!*r)
			break;
	}
	id = ami_action_id_line(m);
	len = strlen(output);
	if (command_old_format()) {
		/* The marker on a line of its own, or clients wait forever. */
		ami_append(s,
			   "Response: Follows\r\nPrivilege: Command\r\n%s%s%s"
			   "--END COMMAND--\r\n\r\n",
			   id, output,
			   len && output[len - 1] != '\n' ? "\n" : "");
		return AMI_SUCCESS;
	}

	/* One trailing newline goes; every other line is an Output line. */
	if (len && output[len - 1] == '\n')
		output[len - 1] = '\0';
	line = output;
	ami_append(s, "Response: %s\r\n%sMessage: Command output follows\r\n",
		   rc == 0 ? "Success" : "Error", id);
	for (;;) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		ami_append(s, "Output: %s\r\n", line);
		if (!nl)
			break;
		line = nl + 1;
	}
	ami_append(s, "\r\n");
	return AMI_SUCCESS;
}

static const AmiActionDef actions[] = {
	{ "Ping", 0, action_ping, "Check that the connection is alive.",
	  "Answers Ping: Pong with the server's current time.", 0 },
	{ "Events", 0, action_events,
	  "Choose which event classes this session receives.",
	  "EventMask: on, off, a number, or a comma-separated class list.", 0 },
	{ "ListCommands", 0, action_listcommands,
	  "Show the actions this session may run.",
	  "One line per permitted action with its synopsis and privilege.", 0 },
	{ "UserEvent", AMI_EVENT_FLAG_USER, action_userevent,
	  "Broadcast a client-defined event.",
	  "UserEvent: the event's name; every other header is passed along.",
	  0 },
	{ "CoreSettings", AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_REPORTING,
	  action_coresettings, "Report the server's version and settings.",
	  "Versions, system name, run user and group, and limits.", 0 },
	{ "CoreStatus", AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_REPORTING,
	  action_corestatus, "Report when the server started and reloaded.",
	  "Local start-up and reload date and time, and call counters.", 0 },
	{ "WaitEvent", 0, action_waitevent,
	  "Wait until an event is delivered to this session.",
	  "Timeout: seconds to wait at most; absent or -1 waits forever.", 0 },
	{ "Filter", AMI_EVENT_FLAG_SYSTEM, action_filter,
	  "Add an event filter to this session.",
	  "Operation: Add; Filter: a regular expression matched against the "
	  "whole event text, or !expression to exclude.", 0 },
	{ "Reload", AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_CONFIG, action_reload,
	  "Reload the configuration and modules, or one module.",
	  "Module: the module to reload; absent reloads the configuration "
	  "file and every module that can reload.", 0 },
	{ "Command", AMI_EVENT_FLAG_COMMAND, action_command,
	  "Execute an amid CLI command.",
	  "Command: the CLI command to run, e.g. 'core show uptime' "
	  "('help' lists them; module load/unload are refused).  With an "
	  "ami_version below 2 the answer is Response: Follows ending in "
	  "--END COMMAND--, otherwise Success or Error with one Output: "
	  "line per line of output.",
	  AMI_ACTION_BLOCKING },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

/* Register every action (all or nothing). */
static AmiModuleLoadResult load_module(AmiModule *self)
{
	return ami_manager_register_table(self, actions) == 0
		       ? AMI_MODULE_LOAD_SUCCESS
		       : AMI_MODULE_LOAD_FAILURE;
}

/* Remove every action this module registered. */
static int unload_module(AmiModule *self)
{
	ami_manager_unregister_table(actions);
	return 0;
}
