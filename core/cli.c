/*
 * The operator CLI: the command table and its handlers (see cli.h).
 * Output layouts follow the Asterisk commands of the same names
 * (main/manager.c, main/loader.c, main/asterisk.c) so operators and their
 * scripts recognise them; amid-only details are added at the end of a
 * block or in extra columns.
 */
#include "cli.h"
#include "config.h"
#include "control.h"
#include "core.h"
#include "loader.h"
#include "server.h"
#include "sessreg.h"
#include "worker.h"

#include <amid/cli.h>
#include <amid/manager.h>
#include <amid/module.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

typedef AmidCliResult (*CliHandler)(int argc, char **argv, int nwords,
				    GString *out);

typedef struct {
	const char *command; /* its words, one space apart */
	const char *summary; /* one line for help */
	const char *usage; /* shown for help <command> and on bad arguments */
	CliHandler handler;
} CliCommand;

static AmidCliResult help(int argc, char **argv, int n, GString *out);

/* ------------------------------------------------------------ words */

char **amid_cli_split(const char *line, int *argc)
{
	GPtrArray *words = g_ptr_array_new();
	const char *p = line ? line : "";
	for (;;) {
		while (*p && g_ascii_isspace(*p))
			p++;
		if (!*p)
			break;
		GString *w = g_string_new(NULL);
		gboolean quoted = FALSE;
		for (; *p; p++) {
			if (*p == '\\' && p[1]) {
				g_string_append_c(w, *++p);
				continue;
			}
			if (*p == '"') {
				quoted = !quoted;
				continue;
			}
			if (!quoted && g_ascii_isspace(*p))
				break;
			g_string_append_c(w, *p);
		}
		g_ptr_array_add(words, g_string_free(w, FALSE));
	}
	if (argc)
		*argc = (int)words->len;
	g_ptr_array_add(words, NULL);
	return (char **)g_ptr_array_free(words, FALSE);
}

/* How many words @cmd has, and do the first ones of @argv spell it? */
static int command_matches(const CliCommand *c, int argc, char **argv)
{
	g_auto(GStrv) words = g_strsplit(c->command, " ", -1);
	int n = (int)g_strv_length(words);
	if (argc < n)
		return 0;
	for (int i = 0; i < n; i++)
		if (g_ascii_strcasecmp(words[i], argv[i]) != 0)
			return 0;
	return n;
}

/* ------------------------------------------------------------ helpers */

static const char *yes_no(gboolean v)
{
	return v ? "Yes" : "No";
}

/* "1 year, 2 weeks, 1 day, 3 hours, 1 minute, 5 seconds" (Asterisk's
 * print_uptimestr), or plain seconds. */
static void append_duration(GString *out, const char *prefix, gint64 secs,
			    gboolean plain)
{
	if (secs < 0)
		secs = 0;
	if (plain) {
		g_string_append_printf(out, "%s: %" G_GINT64_FORMAT "\n",
				       prefix, secs);
		return;
	}
	static const struct {
		const char *name;
		gint64 len;
	} units[] = {
		{"year", 365 * 86400}, {"week", 7 * 86400}, {"day", 86400},
		{"hour", 3600},	       {"minute", 60},
	};
	GString *text = g_string_new(NULL);
	for (gsize i = 0; i < G_N_ELEMENTS(units); i++) {
		if (secs < units[i].len)
			continue;
		gint64 n = secs / units[i].len;
		secs -= n * units[i].len;
		g_string_append_printf(text, "%s%" G_GINT64_FORMAT " %s%s",
				       text->len ? ", " : "", n, units[i].name,
				       n == 1 ? "" : "s");
	}
	if (secs > 0 || text->len == 0)
		g_string_append_printf(text, "%s%" G_GINT64_FORMAT " second%s",
				       text->len ? ", " : "", secs,
				       secs == 1 ? "" : "s");
	g_string_append_printf(out, "%s: %s\n", prefix, text->str);
	g_string_free(text, TRUE);
}

/* Local "YYYY-MM-DD HH:MM:SS" of @usec µs since the epoch. */
static char *local_time(gint64 usec)
{
	g_autoptr(GDateTime) dt =
		g_date_time_new_from_unix_local(usec / G_USEC_PER_SEC);
	return dt ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%S")
		  : g_strdup("?");
}

/* Name of uid/gid, or the number. */
static char *user_name(uid_t uid)
{
	char buf[4096];
	struct passwd pw, *res = NULL;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res)
		return g_strdup(res->pw_name);
	return g_strdup_printf("%u", (unsigned)uid);
}

static char *group_name(gid_t gid)
{
	char buf[4096];
	struct group gr, *res = NULL;
	if (getgrgid_r(gid, &gr, buf, sizeof(buf), &res) == 0 && res)
		return g_strdup(res->gr_name);
	return g_strdup_printf("%u", (unsigned)gid);
}

/* ------------------------------------------------------------ manager */

/* A copy of one action, collected by ami_manager_foreach_action(). */
typedef struct {
	char *name;
	int authority;
	char *synopsis;
	char *description;
	char *module;
} ActionCopy;

static void action_copy_free(gpointer p)
{
	ActionCopy *a = p;
	g_free(a->name);
	g_free(a->synopsis);
	g_free(a->description);
	g_free(a->module);
	g_free(a);
}

static void collect_action(const AmiActionInfo *info, void *data)
{
	ActionCopy *a = g_new0(ActionCopy, 1);
	a->name = g_strdup(info->name);
	a->authority = info->authority;
	a->synopsis = g_strdup(info->synopsis ? info->synopsis : "");
	a->description = g_strdup(info->description ? info->description : "");
	a->module = g_strdup(info->module ? info->module : "core");
	g_ptr_array_add(data, a);
}

/* Every action, sorted by name (transfer full). */
static GPtrArray *all_actions(void)
{
	GPtrArray *list = g_ptr_array_new_with_free_func(action_copy_free);
	ami_manager_foreach_action(collect_action, list);
	return list;
}

static AmidCliResult manager_show_commands(int argc, char **argv, int n,
					   GString *out)
{
	if (argc != n)
		return AMID_CLI_SHOWUSAGE;
	g_autoptr(GPtrArray) list = all_actions();
	int width = (int)strlen("Action");
	for (guint i = 0; i < list->len; i++) {
		ActionCopy *a = list->pdata[i];
		width = MAX(width, (int)strlen(a->name));
	}
	g_string_append_printf(out, "  %-*s  %s\n", width, "Action",
			       "Synopsis");
	g_string_append_printf(out, "  %-*s  %s\n", width, "------",
			       "--------");
	for (guint i = 0; i < list->len; i++) {
		ActionCopy *a = list->pdata[i];
		g_string_append_printf(out, "  %-*s  %s\n", width, a->name,
				       a->synopsis);
	}
	return AMID_CLI_SUCCESS;
}

static AmidCliResult manager_show_command(int argc, char **argv, int n,
					  GString *out)
{
	if (argc < n + 1)
		return AMID_CLI_SHOWUSAGE;
	g_autoptr(GPtrArray) list = all_actions();
	AmidCliResult result = AMID_CLI_SUCCESS;
	for (int k = n; k < argc; k++) {
		const ActionCopy *found = NULL;
		for (guint i = 0; i < list->len && !found; i++) {
			const ActionCopy *a = list->pdata[i];
			if (g_ascii_strcasecmp(a->name, argv[k]) == 0)
				found = a;
		}
		if (!found) {
			g_string_append_printf(out,
					       "No manager action named '%s'\n",
					       argv[k]);
			result = AMID_CLI_FAILURE;
			continue;
		}
		g_autofree char *priv = ami_authority_to_str(found->authority);
		g_string_append_printf(out,
				       "[Syntax]\nAction: %s\n\n"
				       "[Synopsis]\n%s\n\n"
				       "[Description]\n%s\n\n"
				       "[Privilege]\n%s\n\n"
				       "[Module]\n%s\n\n",
				       found->name,
				       *found->synopsis ? found->synopsis
							: "Not available",
				       *found->description ? found->description
							   : "Not available",
				       priv, found->module);
	}
	return result;
}

static gint compare_strings(gconstpointer a, gconstpointer b)
{
	return g_ascii_strcasecmp(*(char *const *)a, *(char *const *)b);
}

static AmidCliResult manager_show_users(int argc, char **argv, int n,
					GString *out)
{
	if (argc != n)
		return AMID_CLI_SHOWUSAGE;
	g_autoptr(AmidConfig) c = amid_core_config();
	if (!c || g_hash_table_size(c->users) == 0) {
		g_string_append(out, "There are no manager users.\n");
		return AMID_CLI_SUCCESS;
	}
	g_autoptr(GPtrArray) names = g_ptr_array_new();
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, c->users);
	while (g_hash_table_iter_next(&it, NULL, &value))
		g_ptr_array_add(names, ((AmidUser *)value)->username);
	g_ptr_array_sort(names, compare_strings);
	g_string_append(out, "\nusername\n--------\n");
	for (guint i = 0; i < names->len; i++)
		g_string_append_printf(out, "%s\n", (char *)names->pdata[i]);
	g_string_append_printf(out, "-------------------\n"
				    "%u manager users configured.\n",
			       names->len);
	return AMID_CLI_SUCCESS;
}

static AmidCliResult manager_show_user(int argc, char **argv, int n,
				       GString *out)
{
	if (argc != n + 1)
		return AMID_CLI_SHOWUSAGE;
	g_autoptr(AmidConfig) c = amid_core_config();
	const AmidUser *u = c ? amid_config_find_user(c, argv[n]) : NULL;
	if (!u) {
		g_string_append_printf(out, "There is no manager called %s\n",
				       argv[n]);
		return AMID_CLI_FAILURE;
	}
	g_autofree char *rp = ami_authority_to_str(u->readperm);
	g_autofree char *wp = ami_authority_to_str(u->writeperm);
	guint rules = u->acl ? amid_acl_length(u->acl) : 0;
	g_autofree char *acl =
		rules ? g_strdup_printf("yes (%u rule%s)", rules,
					rules == 1 ? "" : "s")
		      : g_strdup("no");
	g_string_append_printf(out,
			       "\n"
			       "          username: %s\n"
			       "            secret: %s\n"
			       "               ACL: %s\n"
			       "         read perm: %s\n"
			       "        write perm: %s\n"
			       "   displayconnects: %s\n"
			       "allowmultiplelogin: %s\n"
			       "      writetimeout: %d ms\n"
			       "          sessions: %d\n",
			       u->username, u->secret ? "<Set>" : "<Not set>",
			       acl, rp, wp, u->displayconnects ? "yes" : "no",
			       u->allowmultiplelogin ? "yes" : "no",
			       u->writetimeout_ms,
			       amid_core_login_count(u->username, 0));
	if (!u->eventfilters || u->eventfilters->len == 0) {
		g_string_append(out, "      eventfilters: (none)\n");
	} else {
		for (guint i = 0; i < u->eventfilters->len; i++) {
			const AmidFilter *f = u->eventfilters->pdata[i];
			g_string_append_printf(out,
					       "       eventfilter: %s%s\n",
					       f->exclude ? "!" : "",
					       g_regex_get_pattern(f->regex));
		}
	}
	return AMID_CLI_SUCCESS;
}

/* Asterisk's HSMCONN_FORMAT1 / HSMCONN_FORMAT2. */
#define CONN_HEAD "  %-15.15s  %-55.55s  %-10.10s  %-10.10s  %-8.8s  %-8.8s  %-10.10s  %-10.10s\n"

static AmidCliResult manager_show_connected(int argc, char **argv, int n,
					    GString *out)
{
	if (argc != n)
		return AMID_CLI_SHOWUSAGE;
	g_autoptr(GPtrArray) list = amid_sessreg_snapshot();
	g_autoptr(AmidConfig) c = amid_core_config();
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_string_append_printf(out, CONN_HEAD, "Username", "IP Address",
			       "Start", "Elapsed", "FileDes", "HttpCnt",
			       "ReadPerms", "WritePerms");
	for (guint i = 0; i < list->len; i++) {
		const AmidSessInfo *s = list->pdata[i];
		/* A reload gives live sessions their user's new classes. */
		const AmidUser *u =
			c ? amid_config_find_user(c, s->username) : NULL;
		gint64 start = s->start / G_USEC_PER_SEC;
		g_string_append_printf(
			out,
			"  %-15.15s  %-55.55s  %-10" G_GINT64_FORMAT
			"  %-10" G_GINT64_FORMAT
			"  %-8d  %-8d  %-10.10d  %-10.10d\n",
			s->username, s->peer, start, now - start, s->fd, 0,
			u ? u->readperm : s->readperm,
			u ? u->writeperm : s->writeperm);
	}
	g_string_append_printf(out, "%u users connected.\n", list->len);
	return AMID_CLI_SUCCESS;
}

static AmidCliResult manager_show_eventq(int argc, char **argv, int n,
					 GString *out)
{
	if (argc != n)
		return AMID_CLI_SHOWUSAGE;
	g_autoptr(GPtrArray) list = amid_sessreg_snapshot();
	g_autoptr(AmidConfig) c = amid_core_config();
	gsize total = 0, largest = 0;
	g_string_append_printf(out, "  %-15.15s  %-55.55s  %-6s  %s\n",
			       "Username", "IP Address", "Worker",
			       "Queued bytes");
	for (guint i = 0; i < list->len; i++) {
		const AmidSessInfo *s = list->pdata[i];
		total += s->queued;
		largest = MAX(largest, s->queued);
		g_string_append_printf(out,
				       "  %-15.15s  %-55.55s  %-6u  %zu\n",
				       s->username, s->peer, s->worker,
				       s->queued);
	}
	g_string_append_printf(out,
			       "%u sessions, %zu bytes queued in all, "
			       "largest queue %zu bytes (limit %zu).\n",
			       list->len, total, largest,
			       c ? c->queuelimit : (gsize)0);
	return AMID_CLI_SUCCESS;
}

static AmidCliResult manager_reload(int argc, char **argv, int n,
				    GString *out)
{
	if (argc != n)
		return AMID_CLI_SHOWUSAGE;
	g_message("CLI: manager reload");
	g_autofree char *why = NULL;
	if (ami_core_reload_config(&why) != 0) {
		g_string_append_printf(out, "Configuration not reloaded: %s\n",
				       why ? why : "no configuration");
		return AMID_CLI_FAILURE;
	}
	g_autoptr(AmidConfig) c = amid_core_config();
	g_string_append_printf(out, "Manager configuration reloaded from %s\n",
			       c ? c->path : "?");
	return AMID_CLI_SUCCESS;
}

/* ------------------------------------------------------------ modules */

typedef struct {
	GString *out;
	const char *like; /* NULL: every module */
	int shown;
} ModuleListCtx;

static gboolean contains_nocase(const char *hay, const char *needle)
{
	g_autofree char *h = g_ascii_strdown(hay, -1);
	g_autofree char *n = g_ascii_strdown(needle, -1);
	return strstr(h, n) != NULL;
}

#define MODLIST_FORMAT "%-30s %-40.40s %-10s %-11s %s\n"

static void list_module(const AmidModuleView *v, void *data)
{
	ModuleListCtx *ctx = data;
	g_autofree char *file = g_strconcat(v->name, ".so", NULL);
	if (ctx->like && !contains_nocase(file, ctx->like))
		return;
	g_autofree char *uses = g_strdup_printf("%d", v->usecount);
	g_string_append_printf(ctx->out, MODLIST_FORMAT, file, v->description,
			       uses, "Running", v->version);
	ctx->shown++;
}

static AmidCliResult module_show(int argc, char **argv, int n, GString *out)
{
	ModuleListCtx ctx = {.out = out};
	if (argc == n + 2 && g_ascii_strcasecmp(argv[n], "like") == 0)
		ctx.like = argv[n + 1];
	else if (argc != n)
		return AMID_CLI_SHOWUSAGE;
	g_string_append_printf(out, MODLIST_FORMAT, "Module", "Description",
			       "Use Count", "Status", "Version");
	amid_loader_foreach(list_module, &ctx);
	g_string_append_printf(out, "%d modules loaded\n", ctx.shown);
	return AMID_CLI_SUCCESS;
}

static const char *load_error(int rc)
{
	switch (rc) {
	case -ENOENT:
		return "no such module file in the modules directory";
	case -EEXIST:
		return "it is already loaded";
	case -EPERM:
		return "the name must be a module in the modules directory";
	case -ENOEXEC:
		return "not a valid amid module (see the log)";
	case -ECANCELED:
		return "it declined or failed to load, or a module it "
		       "requires is not loaded (see the log)";
	default:
		return g_strerror(-rc);
	}
}

static AmidCliResult module_load(int argc, char **argv, int n, GString *out)
{
	if (argc != n + 1)
		return AMID_CLI_SHOWUSAGE;
	g_message("CLI: module load %s", argv[n]);
	int rc = ami_module_load(argv[n]);
	if (rc) {
		g_string_append_printf(out, "Unable to load module %s: %s\n",
				       argv[n], load_error(rc));
		return AMID_CLI_FAILURE;
	}
	g_string_append_printf(out, "Loaded %s\n", argv[n]);
	return AMID_CLI_SUCCESS;
}

static AmidCliResult module_unload(int argc, char **argv, int n,
				   GString *out)
{
	if (argc < n + 1)
		return AMID_CLI_SHOWUSAGE;
	AmidCliResult result = AMID_CLI_SUCCESS;
	for (int k = n; k < argc; k++) {
		g_message("CLI: module unload %s", argv[k]);
		int rc = ami_module_unload(argv[k]);
		if (rc == 0) {
			g_string_append_printf(out, "Unloaded %s\n", argv[k]);
			continue;
		}
		g_string_append_printf(
			out, "Unable to unload resource %s: %s\n", argv[k],
			rc == -ENOENT ? "it is not loaded"
			: rc == -EBUSY
				? "in use, or required by another module "
				  "(see the log)"
				: g_strerror(-rc));
		result = AMID_CLI_FAILURE;
	}
	return result;
}

static AmidCliResult module_reload(int argc, char **argv, int n,
				   GString *out)
{
	if (argc == n) {
		g_message("CLI: module reload");
		ami_module_reload(NULL);
		g_string_append(out, "All modules reloaded\n");
		return AMID_CLI_SUCCESS;
	}
	AmidCliResult result = AMID_CLI_SUCCESS;
	for (int k = n; k < argc; k++) {
		g_message("CLI: module reload %s", argv[k]);
		int rc = ami_module_reload(argv[k]);
		switch (rc) {
		case 0:
			g_string_append_printf(out,
					       "Module '%s' reloaded "
					       "successfully.\n",
					       argv[k]);
			continue;
		case -ENOENT:
			g_string_append_printf(out,
					       "The module '%s' is not "
					       "loaded.\n",
					       argv[k]);
			break;
		case -ENOTSUP:
			g_string_append_printf(out,
					       "The module '%s' does not "
					       "support reloading.\n",
					       argv[k]);
			break;
		default:
			g_string_append_printf(out,
					       "The module '%s' failed to "
					       "reload (see the log).\n",
					       argv[k]);
			break;
		}
		result = AMID_CLI_FAILURE;
	}
	return result;
}

/* ------------------------------------------------------------ core */

static AmidCliResult core_show_uptime(int argc, char **argv, int n,
				      GString *out)
{
	gboolean plain = FALSE;
	if (argc == n + 1 && g_ascii_strcasecmp(argv[n], "seconds") == 0)
		plain = TRUE;
	else if (argc != n)
		return AMID_CLI_SHOWUSAGE;
	gint64 now = g_get_real_time();
	append_duration(out, "System uptime",
			(now - ami_core_startup_time()) / G_USEC_PER_SEC,
			plain);
	append_duration(out, "Last reload",
			(now - ami_core_reload_time()) / G_USEC_PER_SEC,
			plain);
	return AMID_CLI_SUCCESS;
}

static void setting(GString *out, const char *label, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

static void setting(GString *out, const char *label, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *value = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_autofree char *l = g_strconcat(label, ":", NULL);
	g_string_append_printf(out, "  %-29s%s\n", l, value);
}

static AmidCliResult core_show_settings(int argc, char **argv, int n,
					GString *out)
{
	if (argc != n)
		return AMID_CLI_SHOWUSAGE;
	g_autoptr(AmidConfig) c = amid_core_config();
	if (!c) {
		g_string_append(out, "No configuration loaded.\n");
		return AMID_CLI_FAILURE;
	}
	g_autofree char *started = local_time(ami_core_startup_time());
	g_autofree char *reloaded = local_time(ami_core_reload_time());
	g_autofree char *run_user = user_name(geteuid());
	g_autofree char *run_group = group_name(getegid());
	g_autofree char *ctl = amid_control_path();
	struct rlimit rl;
	unsigned long long max_files = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		max_files = (unsigned long long)rl.rlim_cur;

	g_string_append(out, "\namid core settings\n------------------\n");
	setting(out, "Version", "%s", ami_core_version());
	setting(out, "AMI version", "%s", ami_core_ami_version());
	setting(out, "SDK ABI", "%d.%d", AMI_MODULE_ABI_MAJOR,
		AMI_MODULE_ABI_MINOR);
	setting(out, "System name", "%s", c->systemname);
	setting(out, "Configuration file", "%s", c->path);
	setting(out, "Control socket", "%s", ctl ? ctl : "(none)");
	setting(out, "Listening on", "%s port %d", c->bindaddr,
		amid_server_port());
	setting(out, "I/O workers", "%u", amid_workers_count());
	setting(out, "Startup time", "%s", started);
	setting(out, "Last reload time", "%s", reloaded);
	setting(out, "Running as", "%s/%s (pid %ld)", run_user, run_group,
		(long)getpid());
	setting(out, "Max file handles", "%llu", max_files);
	setting(out, "Fully booted", "%s", yes_no(ami_core_fully_booted()));
	setting(out, "Users configured", "%u",
		g_hash_table_size(c->users));
	setting(out, "Sessions logged in", "%u", amid_sessreg_count());
	setting(out, "Auth timeout", "%d s", c->authtimeout_s);
	setting(out, "Auth limit", "%d", c->authlimit);
	setting(out, "Auth fail delay", "%d ms", c->authfaildelay_ms);
	setting(out, "Allow multiple login", "%s",
		yes_no(c->allowmultiplelogin));
	setting(out, "Display connects", "%s", yes_no(c->displayconnects));
	setting(out, "Timestamp events", "%s", yes_no(c->timestampevents));
	setting(out, "Queue limit", "%zu bytes", c->queuelimit);
	setting(out, "Write timeout", "%d ms", c->writetimeout_ms);
	setting(out, "Modules directory", "%s", c->moduledir);
	return AMID_CLI_SUCCESS;
}

static AmidCliResult core_show_version(int argc, char **argv, int n,
				       GString *out)
{
	if (argc != n)
		return AMID_CLI_SHOWUSAGE;
	struct utsname u;
	gboolean have = uname(&u) == 0;
	g_string_append_printf(out,
			       "amid %s (AMI %s, SDK ABI %d.%d) on a %s "
			       "running %s %s\n",
			       ami_core_version(), ami_core_ami_version(),
			       AMI_MODULE_ABI_MAJOR, AMI_MODULE_ABI_MINOR,
			       have ? u.machine : "?", have ? u.sysname : "?",
			       have ? u.release : "?");
	return AMID_CLI_SUCCESS;
}

static AmidCliResult core_reload(int argc, char **argv, int n, GString *out)
{
	if (argc != n)
		return AMID_CLI_SHOWUSAGE;
	g_message("CLI: core reload");
	g_autofree char *why = NULL;
	if (ami_core_reload_config(&why) != 0) {
		g_string_append_printf(out, "Configuration not reloaded: %s\n",
				       why ? why : "no configuration");
		return AMID_CLI_FAILURE;
	}
	ami_module_reload(NULL);
	g_autoptr(AmidConfig) c = amid_core_config();
	g_string_append_printf(out,
			       "Configuration reloaded from %s; modules "
			       "reloaded\n",
			       c ? c->path : "?");
	return AMID_CLI_SUCCESS;
}

static AmidCliResult core_stop(int argc, char **argv, int n, GString *out)
{
	if (argc != n)
		return AMID_CLI_SHOWUSAGE;
	g_autofree char *why = g_strdup_printf("'%s %s %s' from the CLI",
					       argv[0], argv[1], argv[2]);
	if (!amid_core_request_stop(why)) {
		g_string_append(out, "amid cannot be stopped from here (no "
				     "main loop)\n");
		return AMID_CLI_FAILURE;
	}
	g_string_append(out, "Shutting down amid\n");
	return AMID_CLI_SUCCESS;
}

/* ------------------------------------------------------------ the table */

/* Sorted by command, as help lists them. */
static const CliCommand commands[] = {
	{"core reload", "Reload the configuration and every module",
	 "Usage: core reload\n"
	 "       Re-reads the configuration file (a file that does not parse\n"
	 "       is refused and the running configuration stays), then\n"
	 "       reloads every module that can reload.  Same as SIGHUP.\n",
	 core_reload},
	{"core show help", "Display help list, or specific help on a command",
	 "Usage: core show help [topic]\n"
	 "       When called with a topic as an argument, displays usage\n"
	 "       information on the given command.  If called without a\n"
	 "       topic, it provides a list of commands.\n",
	 help},
	{"core show settings", "Show some core settings",
	 "Usage: core show settings\n"
	 "       Shows the versions, the configuration in effect and the\n"
	 "       state of the daemon.\n",
	 core_show_settings},
	{"core show uptime", "Show uptime information",
	 "Usage: core show uptime [seconds]\n"
	 "       Shows how long amid has been running and how long since its\n"
	 "       last reload; with 'seconds', as plain numbers of seconds.\n",
	 core_show_uptime},
	{"core show version", "Display version info",
	 "Usage: core show version\n"
	 "       Shows amid's version, its AMI and SDK ABI versions and the\n"
	 "       system it runs on.\n",
	 core_show_version},
	{"core stop gracefully", "Gracefully shut down amid",
	 "Usage: core stop gracefully\n"
	 "       Stops amid as SIGTERM does: sessions are closed, modules\n"
	 "       unloaded, and the daemon exits with status 0.\n",
	 core_stop},
	{"core stop now", "Shut down amid immediately",
	 "Usage: core stop now\n"
	 "       Stops amid as SIGTERM does (amid has no calls to wait for:\n"
	 "       the same as 'core stop gracefully').\n",
	 core_stop},
	{"help", "Display help list, or specific help on a command",
	 "Usage: help [topic]\n"
	 "       When called with a topic as an argument, displays usage\n"
	 "       information on the given command.  If called without a\n"
	 "       topic, it provides a list of commands.\n",
	 help},
	{"manager reload", "Reload the manager configuration",
	 "Usage: manager reload\n"
	 "       Re-reads the configuration file: users, permissions and\n"
	 "       settings (modules are not reloaded; see 'core reload').\n",
	 manager_reload},
	{"manager show command", "Show a manager interface command",
	 "Usage: manager show command <actionname> [<actionname> [<actionname> [...]]]\n"
	 "       Shows the detailed description for a specific manager\n"
	 "       interface action: synopsis, description, privilege, module.\n",
	 manager_show_command},
	{"manager show commands", "List manager interface commands",
	 "Usage: manager show commands\n"
	 "       Prints a listing of all the available manager actions.\n",
	 manager_show_commands},
	{"manager show connected", "List connected manager interface users",
	 "Usage: manager show connected\n"
	 "       Prints a listing of the users that are currently logged in\n"
	 "       to the manager interface.\n",
	 manager_show_connected},
	{"manager show eventq", "List manager interface queued events",
	 "Usage: manager show eventq\n"
	 "       Prints, per logged-in session, the bytes of events and\n"
	 "       replies queued and not yet written to the client, and the\n"
	 "       total.  Updated as the sessions work: approximate.\n",
	 manager_show_eventq},
	{"manager show user", "Display information on a specific manager user",
	 "Usage: manager show user <user>\n"
	 "       Display all information related to the manager user\n"
	 "       specified.\n",
	 manager_show_user},
	{"manager show users", "List configured manager users",
	 "Usage: manager show users\n"
	 "       Prints a listing of all managers that are currently\n"
	 "       configured.\n",
	 manager_show_users},
	{"module load", "Load a module by name",
	 "Usage: module load <module name>\n"
	 "       Loads the specified module from the modules directory\n"
	 "       (\"mod_x\" or \"mod_x.so\").\n",
	 module_load},
	{"module reload", "Reload configuration for a module",
	 "Usage: module reload [module ...]\n"
	 "       Reloads the named modules, or every module that can reload\n"
	 "       when none is named.\n",
	 module_reload},
	{"module show", "List modules and info",
	 "Usage: module show [like keyword]\n"
	 "       Shows amid modules currently in use, and usage statistics.\n",
	 module_show},
	{"module unload", "Unload a module by name",
	 "Usage: module unload <module name> [...]\n"
	 "       Unloads the specified modules.  A module is not unloaded\n"
	 "       while its code runs or another loaded module requires it.\n",
	 module_unload},
};

static const gsize n_commands = G_N_ELEMENTS(commands);

/* ------------------------------------------------------------ lookup */

/* The command with the longest match of @argv, or NULL. */
static const CliCommand *find_command(int argc, char **argv, int *nwords)
{
	const CliCommand *best = NULL;
	int best_n = 0;
	for (gsize i = 0; i < n_commands; i++) {
		int n = command_matches(&commands[i], argc, argv);
		if (n > best_n) {
			best = &commands[i];
			best_n = n;
		}
	}
	*nwords = best_n;
	return best;
}

/*
 * Does @c start with the words @argv[0..argc)?  With @partial_last, the
 * last word may be the beginning of the command's word ("help mod").
 */
static gboolean command_starts_with(const CliCommand *c, int argc,
				    char **argv, gboolean partial_last)
{
	g_auto(GStrv) words = g_strsplit(c->command, " ", -1);
	if ((int)g_strv_length(words) < argc)
		return FALSE;
	for (int i = 0; i < argc; i++) {
		if (partial_last && i == argc - 1) {
			gsize len = strlen(argv[i]);
			if (g_ascii_strncasecmp(words[i], argv[i], len) != 0)
				return FALSE;
		} else if (g_ascii_strcasecmp(words[i], argv[i]) != 0) {
			return FALSE;
		}
	}
	return TRUE;
}

/* The longest run of leading words some command starts with ("" if none). */
static char *best_prefix(int argc, char **argv)
{
	for (int k = argc; k > 0; k--)
		for (gsize i = 0; i < n_commands; i++)
			if (command_starts_with(&commands[i], k, argv, FALSE)) {
				char *saved = argv[k];
				argv[k] = NULL;
				char *joined = g_strjoinv(" ", argv);
				argv[k] = saved;
				return joined;
			}
	return g_strdup("");
}

int amid_cli_run(const char *line, GString *out)
{
	int argc;
	g_auto(GStrv) argv = amid_cli_split(line, &argc);
	if (argc == 0)
		return -EINVAL;

	int nwords;
	const CliCommand *c = find_command(argc, argv, &nwords);
	if (!c) {
		g_autofree char *said = g_strjoinv(" ", argv);
		g_autofree char *best = best_prefix(argc, argv);
		g_string_append_printf(out,
				       "No such command '%s' (type 'help%s%s' "
				       "for other possible commands)\n",
				       said, *best ? " " : "", best);
		return -ENOENT;
	}
	switch (c->handler(argc, argv, nwords, out)) {
	case AMID_CLI_SUCCESS:
		return 0;
	case AMID_CLI_SHOWUSAGE:
		g_string_append(out, c->usage);
		return -EINVAL;
	case AMID_CLI_FAILURE:
	default:
		return -ECANCELED;
	}
}

AMI_API int ami_cli_command(const char *line, char **output)
{
	GString *out = g_string_new(NULL);
	int r = amid_cli_run(line, out);
	if (output)
		*output = g_string_free(out, FALSE);
	else
		g_string_free(out, TRUE);
	return r;
}

/* ------------------------------------------------------------ help */

static AmidCliResult help(int argc, char **argv, int n, GString *out)
{
	int nargs = argc - n;
	char **args = argv + n;
	if (nargs > 0) {
		/* A command spelled out in full: its usage. */
		for (gsize i = 0; i < n_commands; i++) {
			int m = command_matches(&commands[i], nargs, args);
			if (m && m == nargs) {
				g_string_append(out, commands[i].usage);
				return AMID_CLI_SUCCESS;
			}
		}
	}
	int shown = 0;
	for (gsize i = 0; i < n_commands; i++) {
		if (nargs && !command_starts_with(&commands[i], nargs, args,
						  TRUE))
			continue;
		g_string_append_printf(out, "%-30s -- %s\n",
				       commands[i].command,
				       commands[i].summary);
		shown++;
	}
	if (!shown) {
		g_autofree char *said = g_strjoinv(" ", args);
		g_string_append_printf(out, "No such command '%s'.\n", said);
		return AMID_CLI_FAILURE;
	}
	return AMID_CLI_SUCCESS;
}
