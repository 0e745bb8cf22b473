/*
 * mod_http: /metrics, the Prometheus text exposition format (0.0.4):
 * the core's counters (ami_core_stats()), per-action call counts
 * (ami_manager_foreach_action()), and mod_http's own sessions.
 */
#include "http.h"

void http_metrics(GString *out);

static void header(GString *out, const char *name, const char *type,
		   const char *help)
{
	g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
			       name, type);
}

/* Label values escape \ " and newline. */
static void label(GString *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			g_string_append_c(out, '\\');
		if (*v == '\n') {
			g_string_append(out, "\\n");
			continue;
		}
		g_string_append_c(out, *v);
	}
}

static void action_line(const AmiActionInfo *info, void *data)
{
	GString *out = data;
	g_string_append(out, "amid_actions_total{action=\"");
	label(out, info->name);
	g_string_append_printf(out, "\"} %" G_GUINT64_FORMAT "\n", info->calls);
}

#define U64 "%" G_GUINT64_FORMAT

void http_metrics(GString *out)
{
	AmiCoreStats st = {.size = sizeof(st)};
	ami_core_stats(&st);

	header(out, "amid_sessions", "gauge", "AMI sessions open now, by state.");
	g_string_append_printf(out,
			       "amid_sessions{state=\"authenticated\"} " U64 "\n"
			       "amid_sessions{state=\"unauthenticated\"} " U64 "\n",
			       st.sessions_authenticated,
			       st.sessions_current > st.sessions_authenticated
				       ? st.sessions_current - st.sessions_authenticated
				       : 0);
	header(out, "amid_sessions_opened_total", "counter",
	       "AMI sessions opened since start-up (TCP, TLS, virtual).");
	g_string_append_printf(out, "amid_sessions_opened_total " U64 "\n",
			       st.sessions_opened_total);
	header(out, "amid_logins_total", "counter", "Login attempts by result.");
	g_string_append_printf(out,
			       "amid_logins_total{result=\"ok\"} " U64 "\n"
			       "amid_logins_total{result=\"failed\"} " U64 "\n",
			       st.logins_ok_total, st.logins_failed_total);
	header(out, "amid_actions_total", "counter",
	       "Requests run, by action (since the action was registered).");
	ami_manager_foreach_action(action_line, out);
	header(out, "amid_requests_rejected_total", "counter",
	       "Requests refused before a handler ran, by reason.");
	g_string_append_printf(out,
			       "amid_requests_rejected_total{reason=\"denied\"} " U64 "\n"
			       "amid_requests_rejected_total{reason=\"unknown\"} " U64 "\n",
			       st.actions_denied_total, st.actions_unknown_total);
	header(out, "amid_events_total", "counter",
	       "Events raised, delivered to sessions, filtered, dropped.");
	g_string_append_printf(out,
			       "amid_events_total{stage=\"emitted\"} " U64 "\n"
			       "amid_events_total{stage=\"delivered\"} " U64 "\n"
			       "amid_events_total{stage=\"filtered\"} " U64 "\n"
			       "amid_events_total{stage=\"dropped\"} " U64 "\n",
			       st.events_emitted_total, st.events_delivered_total,
			       st.events_filtered_total, st.events_dropped_total);
	header(out, "amid_bytes_total", "counter", "AMI bytes by direction.");
	g_string_append_printf(out,
			       "amid_bytes_total{direction=\"in\"} " U64 "\n"
			       "amid_bytes_total{direction=\"out\"} " U64 "\n",
			       st.bytes_in_total, st.bytes_out_total);
	header(out, "amid_queued_bytes", "gauge",
	       "Output waiting in session queues now.");
	g_string_append_printf(out, "amid_queued_bytes " U64 "\n", st.queued_bytes);
	header(out, "amid_modules_loaded", "gauge", "Modules loaded now.");
	g_string_append_printf(out, "amid_modules_loaded %u\n", st.modules_loaded);

	guint total, authed;
	guint64 queued, dropped;
	http_sessions_counts(&total, &authed, &queued, &dropped);
	header(out, "amid_http_sessions", "gauge", "HTTP sessions by state.");
	g_string_append_printf(out,
			       "amid_http_sessions{state=\"authenticated\"} %u\n"
			       "amid_http_sessions{state=\"unauthenticated\"} %u\n",
			       authed, total - authed);
	header(out, "amid_http_event_queue_depth", "gauge",
	       "Events waiting for WaitEvent in HTTP sessions.");
	g_string_append_printf(out, "amid_http_event_queue_depth " U64 "\n", queued);
	header(out, "amid_http_events_dropped_total", "counter",
	       "Events dropped from full HTTP session queues.");
	g_string_append_printf(out, "amid_http_events_dropped_total " U64 "\n",
			       dropped);
}
