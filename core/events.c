/*
 * Raising events: format once into an immutable GBytes, hand a reference
 * to every worker, which queues it to each of its sessions whose mask
 * admits it.
 */
#include "core.h"
#include "hooks.h"
#include "worker.h"

#include <errno.h>
#include <string.h>

static gboolean valid_name(const char *name)
{
	if (!name || !*name)
		return FALSE;
	for (const char *c = name; *c; c++)
		if (*c == '\r' || *c == '\n' || *c == ':')
			return FALSE;
	return TRUE;
}

/* Event and Privilege lines, then Timestamp when enabled. */
static GString *event_start(int category, const char *event)
{
	g_autofree char *priv = ami_authority_to_str(category);
	GString *text = g_string_sized_new(256);
	g_string_append_printf(text, "Event: %s\r\nPrivilege: %s\r\n", event,
			       priv);
	if (amid_core_timestampevents()) {
		gint64 now = g_get_real_time();
		g_string_append_printf(text, "Timestamp: %" G_GINT64_FORMAT ".%06d\r\n",
				       now / G_USEC_PER_SEC,
				       (int)(now % G_USEC_PER_SEC));
	}
	if (amid_core_debug()) {
		/* general.debug: number every event, as Asterisk's debug=yes */
		static gint64 sequence;
		g_string_append_printf(text, "SequenceNumber: %" G_GINT64_FORMAT "\r\n",
				       (gint64)g_atomic_pointer_add(&sequence, 1));
	}
	const char *system = ami_core_system_name();
	if (*system) /* as Asterisk 12+: every event names its system */
		g_string_append_printf(text, "SystemName: %s\r\n", system);
	return text;
}

/* Terminate, then hand to hooks and to every worker. */
static int event_finish(int category, const char *event, GString *text)
{
	if (text->len < 2 || strcmp(text->str + text->len - 2, "\r\n") != 0)
		g_string_append(text, "\r\n");
	g_string_append(text, "\r\n");

	gsize len = text->len;
	g_autoptr(GBytes) ev = g_bytes_new_take(g_string_free(text, FALSE), len);
	amid_stat_add(AMID_STAT_EVENTS_EMITTED, 1);
	amid_hooks_call(category, event, g_bytes_get_data(ev, NULL));
	amid_workers_publish(category, ev);
	return 0;
}

AMI_API int ami_manager_event_va(int category, const char *event,
				 const char *fmt, va_list ap)
{
	if (!valid_name(event))
		return -EINVAL;
	GString *text = event_start(category, event);
	if (fmt)
		g_string_append_vprintf(text, fmt, ap);
	return event_finish(category, event, text);
}

AMI_API int ami_manager_event_fields(int category, const char *event,
				     const char *const *fields)
{
	if (!valid_name(event))
		return -EINVAL;
	GString *text = event_start(category, event);
	for (const char *const *f = fields; f && f[0] && f[1]; f += 2) {
		g_string_append(text, f[0]);
		g_string_append(text, ": ");
		gsize at = text->len;
		g_string_append(text, f[1]);
		for (gsize i = at; i < text->len; i++)
			if (text->str[i] == '\r' || text->str[i] == '\n')
				text->str[i] = ' ';
		g_string_append(text, "\r\n");
	}
	return event_finish(category, event, text);
}

AMI_API int ami_manager_event(int category, const char *event,
			      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = ami_manager_event_va(category, event, fmt, ap);
	va_end(ap);
	return r;
}
