/* Process-wide daemon state and the ami_core_* information calls. */
#include "core.h"
#include "worker.h"
#include "loader.h"

#include <errno.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include <amid/manager.h>

static GMutex lock;
static AmidConfig *current;
static gint timestampevents;
static gint debug_on;
static char *listen_bindaddr; /* what the listeners were opened with */
static int listen_port = -1;
static const char *system_name = ""; /* interned; read without the lock */
static gint64 startup_time;
static gint64 reload_time;
static gint booted;
static gint unauth;
static GHashTable *logins; /* lower-case username → count; under lock */

void amid_core_set_config(AmidConfig *c)
{
	g_mutex_lock(&lock);
	AmidConfig *old = current;
	current = c ? amid_config_ref(c) : NULL;
	if (c && listen_port < 0) {
		listen_bindaddr = g_strdup(c->bindaddr);
		listen_port = c->port;
	}
	g_atomic_int_set(&timestampevents, c ? c->timestampevents : 0);
	g_atomic_int_set(&debug_on, c ? c->debug : 0);
	g_atomic_pointer_set(&system_name,
			     g_intern_string(c ? c->systemname : ""));
	reload_time = g_get_real_time();
	g_mutex_unlock(&lock);
	if (old)
		amid_config_unref(old);
}

AmidConfig *amid_core_config(void)
{
	g_mutex_lock(&lock);
	AmidConfig *c = current ? amid_config_ref(current) : NULL;
	g_mutex_unlock(&lock);
	return c;
}

gboolean amid_core_timestampevents(void)
{
	return g_atomic_int_get(&timestampevents);
}

gboolean amid_core_debug(void)
{
	return g_atomic_int_get(&debug_on);
}

void amid_core_mark_started(void)
{
	startup_time = g_get_real_time();
}

void amid_core_mark_booted(void)
{
	g_atomic_int_set(&booted, 1);
}

static GMainLoop *main_loop; /* under lock */

void amid_core_set_main_loop(GMainLoop *loop)
{
	g_mutex_lock(&lock);
	main_loop = loop;
	g_mutex_unlock(&lock);
}

gboolean amid_core_request_stop(const char *why)
{
	g_mutex_lock(&lock);
	GMainLoop *loop = main_loop;
	if (loop) {
		g_message("Shutting down (%s)", why ? why : "requested");
		sd_notify(0, "STOPPING=1"); /* as SIGTERM's handler does */
		g_main_loop_quit(loop); /* thread safe: wakes its context */
	}
	g_mutex_unlock(&lock);
	return loop != NULL;
}

gboolean amid_core_unauth_try_add(int limit)
{
	int n = g_atomic_int_add(&unauth, 1);
	if (n >= limit) {
		g_atomic_int_add(&unauth, -1);
		return FALSE;
	}
	return TRUE;
}

void amid_core_unauth_remove(void)
{
	g_atomic_int_add(&unauth, -1);
}

int amid_core_login_count(const char *username, int delta)
{
	g_autofree char *key = g_ascii_strdown(username ? username : "", -1);
	g_mutex_lock(&lock);
	if (!logins)
		logins = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					       NULL);
	int n = GPOINTER_TO_INT(g_hash_table_lookup(logins, key)) + delta;
	if (n <= 0)
		g_hash_table_remove(logins, key);
	else if (delta)
		g_hash_table_insert(logins, g_strdup(key), GINT_TO_POINTER(n));
	g_mutex_unlock(&lock);
	return MAX(n, 0);
}

GBytes *amid_core_fullybooted_event(void)
{
	gint64 now = g_get_real_time();
	gint64 up = (now - startup_time) / G_USEC_PER_SEC;
	gint64 rel = (now - reload_time) / G_USEC_PER_SEC;
	char *text = g_strdup_printf("Event: FullyBooted\r\n"
				     "Privilege: system,all\r\n"
				     "Uptime: %" G_GINT64_FORMAT "\r\n"
				     "LastReload: %" G_GINT64_FORMAT "\r\n"
				     "Status: Fully Booted\r\n\r\n",
				     up, rel);
	return g_bytes_new_take(text, strlen(text));
}

char *amid_log_escape(const char *text)
{
	GString *out = g_string_sized_new(strlen(text));
	for (const char *p = text; *p;) {
		gunichar c = g_utf8_get_char_validated(p, -1);
		if (c == (gunichar)-1 || c == (gunichar)-2) {
			g_string_append_printf(out, "\\x%02X", (guchar)*p++);
			continue;
		}
		const char *next = g_utf8_next_char(p);
		if (c < 0x20 || c == 0x7f || c == '"' || c == '\'' || c == '\\')
			g_string_append_printf(out, "\\x%02X", (guint)c);
		else
			g_string_append_len(out, p, next - p);
		p = next;
	}
	return g_string_free(out, FALSE);
}

void amid_log_security(const char *event, const char *user, const char *peer,
		       const char *reason)
{
	/* One stable shape; fail2ban matches on "SECURITY event=… peer=…".
	 * The quoted fields never hold a quote or a line break. */
	g_autofree char *u = amid_log_escape(user ? user : "");
	g_autofree char *r = amid_log_escape(reason ? reason : "");
	g_message("SECURITY event=%s user=\"%s\" peer=%s reason=\"%s\"", event,
		  u, peer ? peer : "-", r);
}

/* Interned: the strings stay valid across reloads, for every caller. */
AMI_API const char *ami_core_ami_version(void)
{
	g_autoptr(AmidConfig) c = amid_core_config();
	return g_intern_string(c ? c->ami_version : "1.1");
}

AMI_API const char *ami_core_version(void)
{
	return PACKAGE_VERSION;
}

AMI_API const char *ami_core_system_name(void)
{
	return g_atomic_pointer_get(&system_name);
}

gint64 amid_stats[AMID_STAT_N];

static guint64 stat_get(AmidStat k)
{
	gint64 v = __atomic_load_n(&amid_stats[k], __ATOMIC_RELAXED);
	return v < 0 ? 0 : (guint64)v;
}

static void count_module(const AmidModuleView *v, void *data)
{
	(void)v;
	(void)data;
}

AMI_API int ami_core_stats(AmiCoreStats *out)
{
	if (!out || out->size < G_STRUCT_OFFSET(AmiCoreStats, sessions_opened_total))
		return -EINVAL;
	AmiCoreStats st = {.size = MIN(out->size, (guint32)sizeof(AmiCoreStats))};
	st.modules_loaded = amid_loader_foreach(count_module, NULL);
	st.sessions_opened_total = stat_get(AMID_STAT_SESSIONS_OPENED);
	st.sessions_closed_total = stat_get(AMID_STAT_SESSIONS_CLOSED);
	st.sessions_current = st.sessions_opened_total > st.sessions_closed_total
				      ? st.sessions_opened_total - st.sessions_closed_total
				      : 0;
	st.sessions_authenticated = stat_get(AMID_STAT_SESSIONS_AUTHED);
	st.logins_ok_total = stat_get(AMID_STAT_LOGINS_OK);
	st.logins_failed_total = stat_get(AMID_STAT_LOGINS_FAILED);
	st.actions_total = stat_get(AMID_STAT_ACTIONS);
	st.actions_denied_total = stat_get(AMID_STAT_ACTIONS_DENIED);
	st.actions_unknown_total = stat_get(AMID_STAT_ACTIONS_UNKNOWN);
	st.events_emitted_total = stat_get(AMID_STAT_EVENTS_EMITTED);
	st.events_delivered_total = stat_get(AMID_STAT_EVENTS_DELIVERED);
	st.events_filtered_total = stat_get(AMID_STAT_EVENTS_FILTERED);
	st.events_dropped_total = stat_get(AMID_STAT_EVENTS_DROPPED);
	st.bytes_in_total = stat_get(AMID_STAT_BYTES_IN);
	st.bytes_out_total = stat_get(AMID_STAT_BYTES_OUT);
	st.queued_bytes = stat_get(AMID_STAT_QUEUED_BYTES);
	memcpy(out, &st, st.size);
	return 0;
}

AMI_API const char *ami_core_config_path(void)
{
	g_autoptr(AmidConfig) c = amid_core_config();
	return g_intern_string(c && c->path ? c->path : "");
}

AMI_API int ami_user_digest_a1(const char *username, const char *realm,
			       char out[33])
{
	if (!username || !realm || !out)
		return -EINVAL;
	g_autoptr(AmidConfig) c = amid_core_config();
	const AmidUser *u = c && *username ? amid_config_find_user(c, username)
					   : NULL;
	if (!u || !u->secret)
		return -ENOENT;
	g_autofree char *text =
		g_strdup_printf("%s:%s:%s", username, realm, u->secret);
	g_autofree char *hex =
		g_compute_checksum_for_string(G_CHECKSUM_MD5, text, -1);
	memset(text, 0, strlen(text));
	g_strlcpy(out, hex, 33);
	return 0;
}

AMI_API gint64 ami_core_startup_time(void)
{
	return startup_time;
}

AMI_API gint64 ami_core_reload_time(void)
{
	g_mutex_lock(&lock);
	gint64 t = reload_time;
	g_mutex_unlock(&lock);
	return t;
}

AMI_API gboolean ami_core_fully_booted(void)
{
	return g_atomic_int_get(&booted);
}

AMI_API int ami_core_reload_config(char **error_out)
{
	g_autoptr(AmidConfig) old = amid_core_config();
	if (!old)
		return -ENOENT;
	g_autoptr(GError) error = NULL;
	g_autoptr(AmidConfig) c = amid_config_load(old->path, &error);
	if (!c) {
		g_warning("Reload refused, keeping the running configuration: "
			  "%s", error->message);
		if (error_out)
			*error_out = g_strdup(error->message);
		return -EINVAL;
	}
	if (g_strcmp0(c->bindaddr, listen_bindaddr) || c->port != listen_port)
		g_warning("Reload: bindaddr/port changes take effect at the "
			  "next start");
	amid_core_set_config(c);
	amid_workers_apply_config(c);
	g_message("Configuration reloaded from %s", c->path);
	return 0;
}
