/*
 * mod_http — AMI over HTTP (Asterisk's /rawman, /manager, /mxml and their
 * digest-authenticated variants), on libsoup 3.  Internal header shared by
 * the files of the module; nothing here leaves the module.
 *
 * Threads: the SoupServer and every handler run on the module's own thread
 * (its GMainContext).  Virtual-session output arrives on core I/O workers;
 * http_sessions.c collects it under one module lock and hands finished
 * replies back to the server thread.
 */
#ifndef MOD_HTTP_H
#define MOD_HTTP_H

#include <amid/amid.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/** The reply formats. */
typedef enum {
	HTTP_RAWMAN, /* text/plain: the AMI bytes */
	HTTP_MANAGER, /* text/html: form + table */
	HTTP_MXML, /* text/xml: <ajax-response> */
} HttpFormat;

/** One request parameter (query or form field), in request order. */
typedef struct {
	char *name;
	char *value;
} HttpParam;

/** At most this many parameters are used; the rest are dropped (Asterisk). */
#define HTTP_MAX_PARAMS 128
/** Request bodies above this size get 413 (Asterisk's limit). */
#define HTTP_MAX_BODY 40960

/* ---------------------------------------------------------- settings */
typedef struct {
	gboolean enabled; /* http.enabled && general.webenabled */
	char *bindaddr;
	int port;
	char *prefix; /* "" or "asterisk" (no slashes) */
	int httptimeout_s;
	int max_sessions;
	int max_events; /* per-session WaitEvent queue, events */
	gsize max_event_bytes; /* … and bytes */
	char *realm; /* digest realm: systemname or "asterisk" */
	gboolean tlsenable; /* also serve HTTPS (http.tlsenable) */
	int tlsport; /* http.tlsport, default 8089 as Asterisk's http.conf */
	char *tlscertfile; /* PEM certificate (and key when no tlsprivatekey) */
	char *tlsprivatekey;
	GPtrArray *metrics_permit; /* char* "addr/mask" or "addr/bits" */
	GPtrArray *metrics_deny;
} HttpSettings;

void http_settings_free(HttpSettings *s);

/* ---------------------------------------------------------- formats */
/** A new array of HttpParam* that frees them. */
GPtrArray *http_params_new(void);
/** Parse "a=b&c=d" (form encoding: '+' is a space) into @params. */
void http_parse_form(const char *text, GPtrArray *params);
/** The value of the first parameter named @name (case-insensitive), or NULL. */
const char *http_param(GPtrArray *params, const char *name);
/** Render the AMI text @ami (blocks ending in a blank line) as @fmt. */
GString *http_render(HttpFormat fmt, const char *ami, gsize len,
		     GPtrArray *params, const char *form_action);
/** XML/HTML escape of @s (< > " ' &). */
void http_escape(GString *out, const char *s, gssize len);

/* ---------------------------------------------------------- sessions */
typedef struct HttpSession HttpSession;
typedef struct HttpRequest HttpRequest;

/** Start/stop the session table.  @ctx: the server thread's context. */
void http_sessions_init(GMainContext *ctx);
/** Close every session and wait (bounded) for their closed() callbacks. */
void http_sessions_shutdown(void);
/** Update timeouts and limits after a reload (server thread). */
void http_sessions_configure(int httptimeout_s, int max_sessions,
			     int max_events, gsize max_event_bytes);
/**
 * Run one AMI request for an HTTP request (server thread).
 * @cookie_id: the client's mansession_id or NULL; @digest_user: the
 * digest-authenticated user (then no cookie is used) or NULL.
 * Pauses @msg and completes it later; returns FALSE (after setting a
 * status on @msg) when it could not start.
 */
gboolean http_sessions_run(SoupServerMessage *msg, HttpFormat fmt,
			   const char *cookie_id, const char *digest_user,
			   const char *peer, GPtrArray *params);
/** Expire idle sessions (server thread, every second). */
void http_sessions_expire(void);
/** Sessions count, for /metrics. */
void http_sessions_counts(guint *total, guint *authed, guint64 *queued_events,
			  guint64 *dropped_events);

G_END_DECLS

#endif
