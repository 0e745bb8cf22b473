/*
 * mod_http — AMI over HTTP, as Asterisk's manager over its HTTP server:
 *
 *   <prefix>/rawman   text/plain, the AMI bytes     (cookie + Login)
 *   <prefix>/manager  text/html, a form and a table  (cookie + Login)
 *   <prefix>/mxml     text/xml, <ajax-response>      (cookie + Login)
 *   <prefix>/arawman, /amanager, /amxml              (HTTP digest)
 *   <prefix>/metrics  Prometheus text exposition     (its own ACL)
 *
 * A SoupServer on the module's own thread and GMainContext.  Settings come
 * from the daemon's configuration file (ami_core_config_path()): the `http`
 * section, plus general.webenabled and general.httptimeout.  Sessions are
 * virtual AMI sessions (amid/session.h), see http_sessions.c.
 */
#include "http.h"

#include <dlfcn.h>
#include <errno.h>
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>

static GMutex state_lock; /* guards the fields below (main thread side) */
static HttpSettings *settings; /* current settings */
static GThread *thread;
static GMainContext *ctx;
static GMainLoop *loop;
static SoupServer *server; /* owned by the server thread */
static SoupAuthDomain *digest_domain;

/* Start-up handshake with the server thread. */
static GMutex start_lock;
static GCond start_cond;
static int start_state; /* 0 starting, 1 listening, -1 failed */

/* ------------------------------------------------------------ settings */

static GPtrArray *string_list(config_t *cf, const char *path,
			      const char *const *dflt)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	config_setting_t *s = config_lookup(cf, path);
	if (s && (config_setting_is_array(s) || config_setting_is_list(s))) {
		for (int i = 0; i < config_setting_length(s); i++) {
			const char *v = config_setting_get_string_elem(s, i);
			if (v)
				g_ptr_array_add(a, g_strdup(v));
		}
		return a;
	}
	for (; dflt && *dflt; dflt++)
		g_ptr_array_add(a, g_strdup(*dflt));
	return a;
}

static HttpSettings *read_settings(void)
{
	HttpSettings *st = g_new0(HttpSettings, 1);
	st->bindaddr = g_strdup("127.0.0.1");
	st->port = 8088;
	st->prefix = g_strdup("");
	st->httptimeout_s = 60;
	st->max_sessions = 1000;
	st->max_events = 1000;
	st->max_event_bytes = 1024 * 1024;
	st->tlsport = 8089;
	st->tlscertfile = g_strdup("/etc/amid/amid.pem");
	const char *sysname = ami_core_system_name();
	st->realm = g_strdup(sysname && *sysname ? sysname : "asterisk");

	config_t cf;
	config_init(&cf);
	const char *path = ami_core_config_path();
	gboolean http_on = FALSE;
	int web_on = 0;
	if (path && *path && config_read_file(&cf, path) == CONFIG_TRUE) {
		int b = 0, n;
		const char *s;
		if (config_lookup_bool(&cf, "http.enabled", &b))
			http_on = b;
		config_lookup_bool(&cf, "general.webenabled", &web_on);
		if (config_lookup_int(&cf, "general.httptimeout", &n) && n > 0)
			st->httptimeout_s = n;
		if (config_lookup_string(&cf, "http.bindaddr", &s)) {
			g_free(st->bindaddr);
			st->bindaddr = g_strdup(s);
		}
		if (config_lookup_int(&cf, "http.port", &n) && n >= 0 &&
		    n < 65536)
			st->port = n;
		if (config_lookup_string(&cf, "http.prefix", &s)) {
			g_free(st->prefix);
			st->prefix = g_strdup(s);
			g_strstrip(st->prefix);
			/* "asterisk", "/asterisk/" → "asterisk" */
			char *p = st->prefix;
			while (*p == '/')
				memmove(p, p + 1, strlen(p));
			gsize l = strlen(p);
			while (l && p[l - 1] == '/')
				p[--l] = '\0';
		}
		if (config_lookup_bool(&cf, "http.tlsenable", &b))
			st->tlsenable = b;
		if (config_lookup_int(&cf, "http.tlsport", &n) && n > 0 &&
		    n < 65536)
			st->tlsport = n;
		if (config_lookup_string(&cf, "http.tlscertfile", &s)) {
			g_free(st->tlscertfile);
			st->tlscertfile = g_strdup(s);
		}
		if (config_lookup_string(&cf, "http.tlsprivatekey", &s)) {
			g_free(st->tlsprivatekey);
			st->tlsprivatekey = g_strdup(s);
		}
		if (config_lookup_int(&cf, "http.max_sessions", &n) && n > 0)
			st->max_sessions = n;
		if (config_lookup_int(&cf, "http.eventqueue_max", &n) && n > 0)
			st->max_events = n;
		if (config_lookup_int(&cf, "http.eventqueue_bytes", &n) &&
		    n > 0)
			st->max_event_bytes = (gsize)n;
	} else if (path && *path) {
		g_warning("cannot read %s: %s (line %d)", path,
			  config_error_text(&cf), config_error_line(&cf));
	}
	static const char *const permit_dflt[] = {"127.0.0.1/32", "::1/128",
						  NULL};
	static const char *const deny_dflt[] = {"0.0.0.0/0", "::/0", NULL};
	st->metrics_permit = string_list(&cf, "http.metrics_permit", permit_dflt);
	st->metrics_deny = string_list(&cf, "http.metrics_deny", deny_dflt);
	st->enabled = http_on && web_on;
	config_destroy(&cf);
	return st;
}

/* ------------------------------------------------------------ helpers */

static char *peer_of(SoupServerMessage *msg)
{
	GSocketAddress *sa = soup_server_message_get_remote_address(msg);
	if (!G_IS_INET_SOCKET_ADDRESS(sa))
		return g_strdup("unknown:0");
	GInetSocketAddress *isa = G_INET_SOCKET_ADDRESS(sa);
	g_autofree char *a =
		g_inet_address_to_string(g_inet_socket_address_get_address(isa));
	guint16 port = g_inet_socket_address_get_port(isa);
	if (strchr(a, ':'))
		return g_strdup_printf("[%s]:%u", a, port);
	return g_strdup_printf("%s:%u", a, port);
}

/* "1.2.3.0/24", "1.2.3.0/255.255.255.0", "::1/128", "1.2.3.4" */
static gboolean addr_matches(GInetAddress *addr, const char *rule)
{
	g_autofree char *r = g_strdup(rule);
	char *slash = strchr(r, '/');
	int bits = -1;
	if (slash) {
		*slash = '\0';
		const char *m = slash + 1;
		if (strchr(m, '.')) {
			g_autoptr(GInetAddress) mask = g_inet_address_new_from_string(m);
			if (!mask)
				return FALSE;
			const guint8 *b = g_inet_address_to_bytes(mask);
			bits = 0;
			for (int i = 0; i < 4; i++)
				for (int j = 7; j >= 0; j--)
					bits += (b[i] >> j) & 1;
		} else {
			bits = atoi(m);
		}
	}
	g_autoptr(GInetAddress) net = g_inet_address_new_from_string(r);
	if (!net || g_inet_address_get_family(net) !=
			    g_inet_address_get_family(addr))
		return FALSE;
	if (bits < 0)
		bits = (int)g_inet_address_get_native_size(net) * 8;
	g_autoptr(GInetAddressMask) mask =
		g_inet_address_mask_new(net, (guint)bits, NULL);
	return mask && g_inet_address_mask_matches(mask, addr);
}

static gboolean metrics_allowed(SoupServerMessage *msg, HttpSettings *st)
{
	GSocketAddress *sa = soup_server_message_get_remote_address(msg);
	if (!G_IS_INET_SOCKET_ADDRESS(sa))
		return FALSE;
	GInetAddress *a =
		g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(sa));
	for (guint i = 0; i < st->metrics_permit->len; i++)
		if (addr_matches(a, st->metrics_permit->pdata[i]))
			return TRUE;
	for (guint i = 0; i < st->metrics_deny->len; i++)
		if (addr_matches(a, st->metrics_deny->pdata[i]))
			return FALSE;
	return TRUE;
}

static void plain_error(SoupServerMessage *msg, guint status,
			const char *reason)
{
	soup_server_message_set_status(msg, status, NULL);
	g_autofree char *body = g_strdup_printf("%u %s\r\n", status, reason);
	soup_server_message_set_response(msg, "text/plain", SOUP_MEMORY_COPY,
					 body, strlen(body));
}

/* The mansession_id value of the Cookie header (quotes removed), or NULL. */
static char *cookie_id(SoupServerMessage *msg)
{
	const char *c = soup_message_headers_get_list(
		soup_server_message_get_request_headers(msg), "Cookie");
	if (!c)
		return NULL;
	g_auto(GStrv) parts = g_strsplit_set(c, ";,", -1);
	for (char **p = parts; *p; p++) {
		char *kv = g_strstrip(*p);
		if (g_ascii_strncasecmp(kv, "mansession_id=", 14))
			continue;
		char *v = kv + 14;
		gsize l = strlen(v);
		if (l >= 2 && v[0] == '"' && v[l - 1] == '"') {
			v[l - 1] = '\0';
			v++;
		}
		return g_strdup(v);
	}
	return NULL;
}

/* ------------------------------------------------------------ metrics */
void http_metrics(GString *out);

/* ------------------------------------------------------------ handlers */

static HttpSettings *settings_get(void)
{
	/* Swapped by a reload; the old one is freed on this thread later. */
	return g_atomic_pointer_get(&settings);
}

static void early_handler(SoupServer *srv, SoupServerMessage *msg,
			  const char *path, GHashTable *query, gpointer data)
{
	const char *method = soup_server_message_get_method(msg);
	if (strcmp(method, "GET") && strcmp(method, "HEAD") &&
	    strcmp(method, "POST")) {
		plain_error(msg, SOUP_STATUS_NOT_IMPLEMENTED,
			    "Method not implemented");
		return;
	}
	SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
	if (soup_message_headers_get_encoding(h) == SOUP_ENCODING_CONTENT_LENGTH &&
	    soup_message_headers_get_content_length(h) > HTTP_MAX_BODY)
		plain_error(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
			    "Request body too large");
}

static void handler(SoupServer *srv, SoupServerMessage *msg,
		    const char *path, GHashTable *query, gpointer data)
{
	HttpSettings *st = settings_get();
	const char *method = soup_server_message_get_method(msg);
	if (soup_server_message_get_status(msg) >= 400)
		return; /* the early handler answered */
	if (strcmp(method, "GET") && strcmp(method, "HEAD") &&
	    strcmp(method, "POST")) {
		plain_error(msg, SOUP_STATUS_NOT_IMPLEMENTED,
			    "Method not implemented");
		return;
	}
	/* Strip the prefix: "/asterisk/rawman" → "rawman". */
	const char *name = path;
	while (*name == '/')
		name++;
	gsize plen = strlen(st->prefix);
	if (plen) {
		if (strncmp(name, st->prefix, plen) || name[plen] != '/') {
			plain_error(msg, SOUP_STATUS_NOT_FOUND, "Not Found");
			return;
		}
		name += plen + 1;
	}
	gboolean digest = FALSE;
	HttpFormat fmt;
	if (!strcmp(name, "metrics")) {
		if (!metrics_allowed(msg, st)) {
			plain_error(msg, SOUP_STATUS_FORBIDDEN,
				    "Access to /metrics denied");
			return;
		}
		GString *out = g_string_new(NULL);
		http_metrics(out);
		gsize len = out->len;
		soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
		soup_server_message_set_response(
			msg, "text/plain; version=0.0.4; charset=utf-8",
			SOUP_MEMORY_TAKE, g_string_free(out, FALSE), len);
		return;
	}
	if (name[0] == 'a' && (!strcmp(name + 1, "rawman") ||
			       !strcmp(name + 1, "manager") ||
			       !strcmp(name + 1, "mxml"))) {
		digest = TRUE;
		name++;
	}
	if (!strcmp(name, "rawman"))
		fmt = HTTP_RAWMAN;
	else if (!strcmp(name, "manager"))
		fmt = HTTP_MANAGER;
	else if (!strcmp(name, "mxml"))
		fmt = HTTP_MXML;
	else {
		plain_error(msg, SOUP_STATUS_NOT_FOUND, "Not Found");
		return;
	}

	g_autoptr(GPtrArray) params = http_params_new();
	if (!strcmp(method, "POST")) {
		SoupMessageBody *body = soup_server_message_get_request_body(msg);
		if (body->length > HTTP_MAX_BODY) {
			plain_error(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
				    "Request body too large");
			return;
		}
		const char *ctype = soup_message_headers_get_content_type(
			soup_server_message_get_request_headers(msg), NULL);
		if (ctype && g_ascii_strcasecmp(
				     ctype, "application/x-www-form-urlencoded")) {
			plain_error(msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE,
				    "Only application/x-www-form-urlencoded "
				    "bodies are accepted");
			return;
		}
		g_autoptr(GBytes) b = soup_message_body_flatten(body);
		gsize n;
		const char *d = g_bytes_get_data(b, &n);
		if (memchr(d, '\0', n)) {
			plain_error(msg, SOUP_STATUS_BAD_REQUEST,
				    "NUL byte in the request body");
			return;
		}
		g_autofree char *text = g_strndup(d, n);
		http_parse_form(text, params);
	} else {
		http_parse_form(g_uri_get_query(soup_server_message_get_uri(msg)),
				params);
	}

	g_autofree char *peer = peer_of(msg);
	g_autofree char *user = NULL;
	if (digest) {
		user = soup_auth_domain_accepts(digest_domain, msg);
		if (!user) { /* not reached: the domain challenged already */
			soup_auth_domain_challenge(digest_domain, msg);
			return;
		}
	}
	g_autofree char *cookie = digest ? NULL : cookie_id(msg);
	http_sessions_run(msg, fmt, cookie, user, peer, params);
}

static char *digest_cb(SoupAuthDomain *domain, SoupServerMessage *msg,
		       const char *username, gpointer data)
{
	char a1[33];
	HttpSettings *st = settings_get();
	if (ami_user_digest_a1(username, st->realm, a1) != 0)
		return NULL;
	return g_strdup(a1);
}

static gboolean expire_tick(gpointer data)
{
	http_sessions_expire();
	return G_SOURCE_CONTINUE;
}

/* HTTPS beside HTTP (http.tlsenable): same handlers, GIO's TLS. */
static gboolean listen_https(const HttpSettings *st)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GTlsCertificate) cert = g_tls_certificate_new_from_files(
		st->tlscertfile,
		st->tlsprivatekey ? st->tlsprivatekey : st->tlscertfile, &error);
	if (!cert) {
		g_warning("http.tlscertfile %s: %s", st->tlscertfile,
			  error->message);
		return FALSE;
	}
	soup_server_set_tls_certificate(server, cert);
	g_autoptr(GInetAddress) ia = g_inet_address_new_from_string(st->bindaddr);
	g_autoptr(GSocketAddress) sa =
		g_inet_socket_address_new(ia, (guint16)st->tlsport);
	if (!soup_server_listen(server, sa, SOUP_SERVER_LISTEN_HTTPS, &error)) {
		g_warning("cannot listen (HTTPS) on %s port %d: %s",
			  st->bindaddr, st->tlsport, error->message);
		return FALSE;
	}
	g_message("AMI over HTTPS on %s port %d", st->bindaddr, st->tlsport);
	return TRUE;
}

static gpointer server_thread(gpointer data)
{
	HttpSettings *st = data;
	g_main_context_push_thread_default(ctx);
	server = soup_server_new("server-header", "amid/" PACKAGE_VERSION " ",
				 NULL);
	soup_server_add_early_handler(server, NULL, early_handler, NULL, NULL);
	soup_server_add_handler(server, NULL, handler, NULL, NULL);
	digest_domain = soup_auth_domain_digest_new("realm", st->realm, NULL);
	for (int i = 0; i < 3; i++) {
		static const char *const names[] = {"arawman", "amanager",
						    "amxml"};
		g_autofree char *p =
			*st->prefix ? g_strdup_printf("/%s/%s", st->prefix,
						      names[i])
				    : g_strdup_printf("/%s", names[i]);
		soup_auth_domain_add_path(digest_domain, p);
	}
	soup_auth_domain_digest_set_auth_callback(digest_domain, digest_cb,
						  NULL, NULL);
	soup_server_add_auth_domain(server, digest_domain);

	g_autoptr(GError) error = NULL;
	GInetAddress *ia = g_inet_address_new_from_string(st->bindaddr);
	gboolean ok = FALSE;
	if (!ia) {
		g_warning("http.bindaddr '%s' is not an IP address",
			  st->bindaddr);
	} else {
		GSocketAddress *sa = g_inet_socket_address_new(ia, (guint16)st->port);
		ok = soup_server_listen(server, sa, 0, &error);
		g_object_unref(sa);
		g_object_unref(ia);
		if (!ok)
			g_warning("cannot listen on %s port %d: %s",
				  st->bindaddr, st->port, error->message);
	}
	if (ok && st->tlsenable)
		ok = listen_https(st);
	GSource *tick = NULL;
	if (ok) {
		tick = g_timeout_source_new_seconds(1);
		g_source_set_callback(tick, expire_tick, NULL, NULL);
		g_source_attach(tick, ctx);
	}
	g_mutex_lock(&start_lock);
	start_state = ok ? 1 : -1;
	g_cond_signal(&start_cond);
	g_mutex_unlock(&start_lock);
	if (ok)
		g_main_loop_run(loop);
	if (tick) {
		g_source_destroy(tick);
		g_source_unref(tick);
	}
	soup_server_disconnect(server);
	g_clear_object(&digest_domain);
	g_clear_object(&server);
	g_main_context_pop_thread_default(ctx);
	return NULL;
}

static gboolean quit_cb(gpointer data)
{
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

static int server_start(void)
{
	HttpSettings *st = settings;
	http_sessions_configure(st->httptimeout_s, st->max_sessions,
				st->max_events, st->max_event_bytes);
	if (!st->enabled) {
		g_message("AMI over HTTP is disabled (http.enabled and "
			  "general.webenabled must both be true)");
		return 0;
	}
	ctx = g_main_context_new();
	loop = g_main_loop_new(ctx, FALSE);
	http_sessions_init(ctx);
	start_state = 0;
	thread = g_thread_new("mod_http", server_thread, st);
	g_mutex_lock(&start_lock);
	while (start_state == 0)
		g_cond_wait(&start_cond, &start_lock);
	int state = start_state;
	g_mutex_unlock(&start_lock);
	if (state < 0) {
		g_thread_join(thread);
		thread = NULL;
		http_sessions_shutdown();
		g_clear_pointer(&loop, g_main_loop_unref);
		g_clear_pointer(&ctx, g_main_context_unref);
		return -1;
	}
	g_message("AMI over HTTP on %s port %d%s%s", st->bindaddr, st->port,
		  *st->prefix ? ", prefix /" : "", st->prefix);
	return 0;
}

static void server_stop(void)
{
	if (!thread)
		return;
	/* Close every session first: their last replies still go out. */
	http_sessions_shutdown();
	g_main_context_invoke(ctx, quit_cb, NULL);
	g_thread_join(thread);
	thread = NULL;
	/* Whatever was queued after the loop stopped (replies to closed
	 * connections) is run here, so nothing leaks. */
	g_main_context_push_thread_default(ctx);
	while (g_main_context_iteration(ctx, FALSE))
		;
	g_main_context_pop_thread_default(ctx);
	g_clear_pointer(&loop, g_main_loop_unref);
	g_clear_pointer(&ctx, g_main_context_unref);
}

/* ------------------------------------------------------------ module */

static gboolean http_settings_free_cb(gpointer data)
{
	http_settings_free(data);
	return G_SOURCE_REMOVE;
}

static AmiModuleLoadResult load_module(AmiModule *self)
{
	/*
	 * libsoup registers GTypes in its static data and cannot be unloaded
	 * and loaded again in one process (the types would be registered
	 * twice).  Pin it: it stays mapped when mod_http is unloaded, and a
	 * later load finds it as it was.
	 */
	if (!dlopen("libsoup-3.0.so.0", RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE))
		g_warning("cannot pin libsoup-3.0.so.0 in memory: %s", dlerror());
	g_mutex_lock(&state_lock);
	settings = read_settings();
	int rc = server_start();
	if (rc != 0) {
		g_clear_pointer(&settings, http_settings_free);
	}
	g_mutex_unlock(&state_lock);
	return rc == 0 ? AMI_MODULE_LOAD_SUCCESS : AMI_MODULE_LOAD_FAILURE;
}

static int unload_module(AmiModule *self)
{
	g_mutex_lock(&state_lock);
	server_stop();
	g_clear_pointer(&settings, http_settings_free);
	g_mutex_unlock(&state_lock);
	return 0;
}

static gboolean same_listener(const HttpSettings *a, const HttpSettings *b)
{
	return a->enabled == b->enabled && a->port == b->port &&
	       a->tlsenable == b->tlsenable && a->tlsport == b->tlsport &&
	       !g_strcmp0(a->tlscertfile, b->tlscertfile) &&
	       !g_strcmp0(a->tlsprivatekey, b->tlsprivatekey) &&
	       !strcmp(a->bindaddr, b->bindaddr) &&
	       !strcmp(a->prefix, b->prefix) && !strcmp(a->realm, b->realm);
}

static int reload_module(AmiModule *self)
{
	g_mutex_lock(&state_lock);
	HttpSettings *st = read_settings();
	int rc = 0;
	if (settings && same_listener(settings, st) && thread) {
		/* Same listener: new limits and ACLs apply at once.  The
		 * handlers read `settings` on the server thread; swap there. */
		HttpSettings *old = settings;
		g_atomic_pointer_set(&settings, st);
		http_sessions_configure(st->httptimeout_s, st->max_sessions,
					st->max_events, st->max_event_bytes);
		/* Let a running handler finish with the old settings. */
		g_main_context_invoke(ctx, http_settings_free_cb,
				      old);
	} else {
		server_stop();
		g_clear_pointer(&settings, http_settings_free);
		settings = st;
		rc = server_start();
	}
	g_mutex_unlock(&state_lock);
	return rc;
}

AMI_MODULE_INFO("mod_http", "AMI over HTTP (rawman, manager, mxml, digest, "
			    "metrics)",
		.version = PACKAGE_VERSION, .load = load_module,
		.unload = unload_module, .reload = reload_module,
		.requires = "mod_core");
