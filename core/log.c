/*
 * Log writer.  In the foreground: "2026-11-29 07:00:00.123 LEVEL domain:
 * message" on stderr.  Otherwise the systemd journal when it is there,
 * stderr when not.  Info and debug are shown only with -d.
 */
#include "log.h"

#include <stdio.h>
#include <unistd.h>

static gboolean fg;
static gboolean dbg;

static const char *level_name(GLogLevelFlags level)
{
	if (level & G_LOG_LEVEL_ERROR)
		return "ERROR";
	if (level & G_LOG_LEVEL_CRITICAL)
		return "CRITICAL";
	if (level & G_LOG_LEVEL_WARNING)
		return "WARNING";
	if (level & G_LOG_LEVEL_MESSAGE)
		return "NOTICE";
	if (level & G_LOG_LEVEL_INFO)
		return "INFO";
	return "DEBUG";
}

static GLogWriterOutput writer(GLogLevelFlags level, const GLogField *fields,
			       gsize n, gpointer data)
{
	if ((level & (G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG)) && !dbg)
		return G_LOG_WRITER_HANDLED;
	if (!fg && g_log_writer_is_journald(fileno(stderr)))
		return g_log_writer_journald(level, fields, n, data);

	const char *domain = "amid", *message = "";
	for (gsize i = 0; i < n; i++) {
		if (!g_strcmp0(fields[i].key, "GLIB_DOMAIN") && fields[i].value)
			domain = fields[i].value;
		else if (!g_strcmp0(fields[i].key, "MESSAGE") && fields[i].value)
			message = fields[i].value;
	}
	/* The zone is looked up once: g_date_time_new_now_local() would
	 * stat /etc/localtime on every line. */
	static GTimeZone *tz;
	if (g_once_init_enter(&tz))
		g_once_init_leave(&tz, g_time_zone_new_local());
	g_autoptr(GDateTime) now = g_date_time_new_now(tz);
	g_autofree char *ts = g_date_time_format(now, "%Y-%m-%d %H:%M:%S.%f");
	if (ts && strlen(ts) > 23)
		ts[23] = '\0'; /* milliseconds */
	fprintf(stderr, "%s %s %s: %s\n", ts ? ts : "", level_name(level),
		domain, message);
	fflush(stderr);
	return G_LOG_WRITER_HANDLED;
}

void amid_log_setup(gboolean foreground, gboolean debug)
{
	fg = foreground;
	dbg = debug;
	g_log_set_writer_func(writer, NULL, NULL);
}
