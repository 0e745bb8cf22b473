/*
 * Reading amid.conf with libconfig.  Option names and defaults follow
 * Asterisk's manager.conf; every error names file:line.
 */
#include "config.h"
#include "perms.h"

#include <libconfig.h>
#include <string.h>

G_DEFINE_QUARK(amid-config-error-quark, amid_config_error)

#define DEFAULT_MODULEDIR "/usr/lib/amid/modules"
#define DEFAULT_TLSCERTFILE "/etc/amid/amid.pem"
#define DEFAULT_TLSPORT 5039

AmidFilter *amid_filter_new(const char *text, GError **error)
{
	gboolean exclude = text[0] == '!';
	const char *pattern = exclude ? text + 1 : text;
	if (!*pattern) {
		g_set_error(error, G_REGEX_ERROR, G_REGEX_ERROR_COMPILE,
			    "empty filter");
		return NULL;
	}
	GRegex *re = g_regex_new(pattern,
				 G_REGEX_OPTIMIZE | G_REGEX_RAW | G_REGEX_DOTALL, 0,
				 error);
	if (!re)
		return NULL;
	AmidFilter *f = g_new0(AmidFilter, 1);
	f->exclude = exclude;
	f->regex = re;
	return f;
}

void amid_filter_free(AmidFilter *f)
{
	if (!f)
		return;
	g_regex_unref(f->regex);
	g_free(f);
}

gboolean amid_filters_allow(GPtrArray *filters, const char *text, gssize len)
{
	if (!filters || filters->len == 0)
		return TRUE;
	gboolean has_include = FALSE, included = FALSE;
	for (guint i = 0; i < filters->len; i++) {
		AmidFilter *f = filters->pdata[i];
		if (!f->exclude) {
			has_include = TRUE;
			if (!included &&
			    g_regex_match_full(f->regex, text, len, 0, 0, NULL,
					       NULL))
				included = TRUE;
		}
	}
	if (has_include && !included)
		return FALSE;
	for (guint i = 0; i < filters->len; i++) {
		AmidFilter *f = filters->pdata[i];
		if (f->exclude &&
		    g_regex_match_full(f->regex, text, len, 0, 0, NULL, NULL))
			return FALSE;
	}
	return TRUE;
}

static void user_free(gpointer p)
{
	AmidUser *u = p;
	g_free(u->username);
	g_free(u->secret);
	amid_acl_free(u->acl);
	if (u->named_acls)
		g_ptr_array_unref(u->named_acls);
	if (u->eventfilters)
		g_ptr_array_unref(u->eventfilters);
	g_free(u);
}

static AmidConfig *config_new(const char *path)
{
	AmidConfig *c = g_new0(AmidConfig, 1);
	c->refcount = 1;
	c->path = g_strdup(path);
	c->enabled = TRUE;
	c->bindaddr = g_strdup("127.0.0.1");
	c->port = 5038;
	c->tlsport = -1; /* none given: see finish_tls() */
	c->tlscertfile = g_strdup(DEFAULT_TLSCERTFILE);
	c->ami_version = g_strdup("1.1");
	c->authtimeout_s = 30;
	c->authlimit = 50;
	c->displayconnects = TRUE;
	c->allowmultiplelogin = TRUE;
	c->systemname = g_strdup("");
	c->queuelimit = 4 * 1024 * 1024;
	c->writetimeout_ms = 100;
	c->authfaildelay_ms = 1000;
	c->httptimeout_s = 60;
	c->authfailbantime_s = 300;
	c->controlsocket = NULL; /* the default path (control.c) */
	c->moduledir = g_strdup(DEFAULT_MODULEDIR);
	c->load = g_ptr_array_new_with_free_func(g_free);
	c->noload = g_ptr_array_new_with_free_func(g_free);
	c->preload = g_ptr_array_new_with_free_func(g_free);
	c->require = g_ptr_array_new_with_free_func(g_free);
	c->users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 user_free);
	c->acls = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					(GDestroyNotify)amid_acl_free);
	return c;
}

AmidConfig *amid_config_ref(AmidConfig *c)
{
	g_atomic_int_inc(&c->refcount);
	return c;
}

void amid_config_unref(AmidConfig *c)
{
	if (!c || !g_atomic_int_dec_and_test(&c->refcount))
		return;
	g_free(c->path);
	g_free(c->bindaddr);
	g_free(c->tlsbindaddr);
	g_free(c->tlscertfile);
	g_free(c->tlsprivatekey);
	g_free(c->tlscipher);
	g_free(c->ami_version);
	g_free(c->systemname);
	g_free(c->controlsocket);
	g_free(c->moduledir);
	g_ptr_array_unref(c->load);
	g_ptr_array_unref(c->noload);
	g_ptr_array_unref(c->preload);
	g_ptr_array_unref(c->require);
	g_hash_table_unref(c->users);
	g_hash_table_unref(c->acls);
	g_free(c);
}

gboolean amid_user_acl_allows(const AmidUser *u, const char *addr)
{
	if (!amid_acl_allows(u->acl, addr))
		return FALSE;
	for (guint i = 0; u->named_acls && i < u->named_acls->len; i++)
		if (!amid_acl_allows(u->named_acls->pdata[i], addr))
			return FALSE;
	return TRUE;
}

const AmidUser *amid_config_find_user(const AmidConfig *c, const char *name)
{
	g_autofree char *key = g_ascii_strdown(name, -1);
	return g_hash_table_lookup(c->users, key);
}

/* ------------------------------------------------------------ helpers */

typedef struct {
	const char *path;
	GError **error;
} Ctx;

static gboolean fail(Ctx *x, const config_setting_t *s, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

static gboolean fail(Ctx *x, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	const char *file = s && config_setting_source_file(s)
				   ? config_setting_source_file(s)
				   : x->path;
	g_set_error(x->error, AMID_CONFIG_ERROR, 1, "%s:%u: %s", file,
		    s ? config_setting_source_line(s) : 0, msg);
	return FALSE;
}

static void warn(Ctx *x, const config_setting_t *s, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

static void warn(Ctx *x, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_warning("%s:%u: %s", x->path, s ? config_setting_source_line(s) : 0,
		  msg);
}

static gboolean get_bool(Ctx *x, config_setting_t *s, gboolean *out)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return fail(x, s, "'%s' must be true or false",
			    config_setting_name(s));
	*out = config_setting_get_bool(s);
	return TRUE;
}

static gboolean get_int(Ctx *x, config_setting_t *s, int min, int max,
			int *out)
{
	int t = config_setting_type(s);
	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
		return fail(x, s, "'%s' must be a whole number",
			    config_setting_name(s));
	long long v = config_setting_get_int64(s);
	if (v < min || v > max)
		return fail(x, s, "'%s' must be between %d and %d (got %lld)",
			    config_setting_name(s), min, max, v);
	*out = (int)v;
	return TRUE;
}

static gboolean get_string(Ctx *x, config_setting_t *s, char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(x, s, "'%s' must be a string",
			    config_setting_name(s));
	g_free(*out);
	*out = g_strdup(config_setting_get_string(s));
	return TRUE;
}

static gboolean get_string_list(Ctx *x, config_setting_t *s, GPtrArray *out)
{
	if (!config_setting_is_aggregate(s))
		return fail(x, s, "'%s' must be a list of strings",
			    config_setting_name(s));
	for (int i = 0; i < config_setting_length(s); i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return fail(x, e, "'%s' must hold strings only",
				    config_setting_name(s));
		g_ptr_array_add(out, g_strdup(config_setting_get_string(e)));
	}
	return TRUE;
}

static gboolean get_classes(Ctx *x, config_setting_t *s, int *out)
{
	g_autofree char *list = NULL;
	if (!get_string(x, s, &list))
		return FALSE;
	g_autofree char *unknown = NULL;
	*out = amid_perms_parse_list(list, &unknown);
	if (unknown)
		warn(x, s, "'%s': unknown event class(es) '%s' ignored",
		     config_setting_name(s), unknown);
	return TRUE;
}

/* A string or a list of strings, as a new array (transfer full). */
static GPtrArray *strings_of(Ctx *x, config_setting_t *s)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		g_ptr_array_add(out, g_strdup(config_setting_get_string(s)));
		return out;
	}
	if (!get_string_list(x, s, out)) {
		g_ptr_array_unref(out);
		return NULL;
	}
	return out;
}

/* permit/deny: rules appended in the order the keys stand in the user. */
static gboolean get_acl(Ctx *x, config_setting_t *s, gboolean permit,
			AmidAcl **acl)
{
	g_autoptr(GPtrArray) specs = strings_of(x, s);
	if (!specs)
		return FALSE;
	if (!*acl)
		*acl = amid_acl_new();
	for (guint i = 0; i < specs->len; i++) {
		g_autoptr(GError) e = NULL;
		if (!amid_acl_add(*acl, permit, specs->pdata[i], &e))
			return fail(x, s, "%s: %s", config_setting_name(s),
				    e->message);
	}
	return TRUE;
}

static gboolean get_filters(Ctx *x, config_setting_t *s, GPtrArray **out)
{
	g_autoptr(GPtrArray) texts = strings_of(x, s);
	if (!texts)
		return FALSE;
	if (!*out)
		*out = g_ptr_array_new_with_free_func(
			(GDestroyNotify)amid_filter_free);
	for (guint i = 0; i < texts->len; i++) {
		g_autoptr(GError) e = NULL;
		AmidFilter *f = amid_filter_new(texts->pdata[i], &e);
		if (!f)
			return fail(x, s, "eventfilter '%s': %s",
				    (char *)texts->pdata[i], e->message);
		g_ptr_array_add(*out, f);
	}
	return TRUE;
}

/*
 * tlsbindaddr: "address", "address:port", "[IPv6]", "[IPv6]:port" or a
 * bare IPv6 address (two colons or more: no port).  The port is kept in
 * c->tlsport (-1: none) until finish_tls().
 */
static gboolean get_tlsbindaddr(Ctx *x, config_setting_t *s, AmidConfig *c)
{
	g_autofree char *spec = NULL;
	if (!get_string(x, s, &spec))
		return FALSE;
	g_autofree char *host = NULL;
	const char *port = NULL, *why = NULL;
	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (!end)
			why = "no ']' after the IPv6 address";
		else if (end[1] && end[1] != ':')
			why = "only ':port' may follow ']'";
		else {
			host = g_strndup(spec + 1, (gsize)(end - spec - 1));
			port = end[1] ? end + 2 : NULL;
		}
	} else {
		const char *colon = strchr(spec, ':');
		if (colon && !strchr(colon + 1, ':')) {
			host = g_strndup(spec, (gsize)(colon - spec));
			port = colon + 1;
		} else {
			host = g_strdup(spec);
		}
	}
	if (!why && !*host)
		why = "no address";
	int value = -1;
	if (!why && port) {
		guint64 v = 0;
		if (!g_ascii_isdigit(*port) ||
		    !g_ascii_string_to_unsigned(port, 10, 0, 65535, &v, NULL))
			why = "the port must be a number from 0 to 65535";
		value = (int)v;
	}
	if (why)
		return fail(x, s,
			    "tlsbindaddr '%s': %s (expected \"address\", "
			    "\"address:port\" or \"[IPv6 address]:port\")",
			    spec, why);
	g_free(c->tlsbindaddr);
	c->tlsbindaddr = g_steal_pointer(&host);
	c->tlsport = value;
	return TRUE;
}

/* TLS defaults that depend on the plain listener (Asterisk's rules). */
static void finish_tls(AmidConfig *c)
{
	if (!c->tlsbindaddr)
		c->tlsbindaddr = g_strdup(c->bindaddr);
	if (c->tlsport < 0 || c->tlsport == c->port)
		c->tlsport = DEFAULT_TLSPORT;
}

/* acl = "name" or [ "a", "b" ]: named ACLs from the top-level `acls`. */
static gboolean get_named_acls(Ctx *x, AmidConfig *c, config_setting_t *s,
			       GPtrArray **out)
{
	g_autoptr(GPtrArray) names = strings_of(x, s);
	if (!names)
		return FALSE;
	if (!*out)
		*out = g_ptr_array_new();
	for (guint i = 0; i < names->len; i++) {
		AmidAcl *acl = g_hash_table_lookup(c->acls, names->pdata[i]);
		if (!acl)
			return fail(x, s, "acl '%s' is not defined in 'acls'",
				    (char *)names->pdata[i]);
		g_ptr_array_add(*out, acl);
	}
	return TRUE;
}

/* acls = ( { name = "local"; deny = [...]; permit = [...]; }, ... ); */
static gboolean read_acls(Ctx *x, AmidConfig *c, config_setting_t *list)
{
	if (!config_setting_is_list(list))
		return fail(x, list, "'acls' must be a list ( … )");
	for (int i = 0; i < config_setting_length(list); i++) {
		config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		if (!config_setting_is_group(g))
			return fail(x, g, "each entry of 'acls' must be a group");
		const char *name = NULL;
		AmidAcl *acl = NULL;
		for (int j = 0; j < config_setting_length(g); j++) {
			config_setting_t *s = config_setting_get_elem(g, (unsigned)j);
			const char *k = config_setting_name(s);
			gboolean ok = TRUE;
			if (!strcmp(k, "name") &&
			    config_setting_type(s) == CONFIG_TYPE_STRING)
				name = config_setting_get_string(s);
			else if (!strcmp(k, "permit") || !strcmp(k, "deny"))
				ok = get_acl(x, s, k[0] == 'p', &acl);
			else
				warn(x, s, "unknown acl option '%s' ignored", k);
			if (!ok) {
				amid_acl_free(acl);
				return FALSE;
			}
		}
		if (!name || !*name) {
			amid_acl_free(acl);
			return fail(x, g, "acl without 'name'");
		}
		if (g_hash_table_contains(c->acls, name)) {
			amid_acl_free(acl);
			return fail(x, g, "acl '%s' defined twice", name);
		}
		g_hash_table_insert(c->acls, g_strdup(name),
				    acl ? acl : amid_acl_new());
	}
	return TRUE;
}

/* ------------------------------------------------------------ groups */

static gboolean read_general(Ctx *x, AmidConfig *c, config_setting_t *g)
{
	int qlimit = (int)c->queuelimit;
	for (int i = 0; i < config_setting_length(g); i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		gboolean ok;
		if (!strcmp(k, "enabled"))
			ok = get_bool(x, s, &c->enabled);
		else if (!strcmp(k, "bindaddr"))
			ok = get_string(x, s, &c->bindaddr);
		else if (!strcmp(k, "port"))
			ok = get_int(x, s, 0, 65535, &c->port);
		else if (!strcmp(k, "tlsenable"))
			ok = get_bool(x, s, &c->tlsenable);
		else if (!strcmp(k, "tlsbindaddr"))
			ok = get_tlsbindaddr(x, s, c);
		else if (!strcmp(k, "tlscertfile"))
			ok = get_string(x, s, &c->tlscertfile) &&
			     (*c->tlscertfile ||
			      fail(x, s, "'tlscertfile' must name a file"));
		else if (!strcmp(k, "tlsprivatekey"))
			ok = get_string(x, s, &c->tlsprivatekey);
		else if (!strcmp(k, "tlscipher"))
			ok = get_string(x, s, &c->tlscipher);
		else if (!strcmp(k, "ami_version"))
			ok = get_string(x, s, &c->ami_version);
		else if (!strcmp(k, "authtimeout"))
			ok = get_int(x, s, 1, 86400, &c->authtimeout_s);
		else if (!strcmp(k, "authlimit"))
			ok = get_int(x, s, 1, 1000000, &c->authlimit);
		else if (!strcmp(k, "timestampevents"))
			ok = get_bool(x, s, &c->timestampevents);
		else if (!strcmp(k, "displayconnects"))
			ok = get_bool(x, s, &c->displayconnects);
		else if (!strcmp(k, "allowmultiplelogin"))
			ok = get_bool(x, s, &c->allowmultiplelogin);
		else if (!strcmp(k, "debug"))
			ok = get_bool(x, s, &c->debug);
		else if (!strcmp(k, "systemname"))
			ok = get_string(x, s, &c->systemname);
		else if (!strcmp(k, "workers"))
			ok = get_int(x, s, 0, 256, &c->workers);
		else if (!strcmp(k, "queuelimit"))
			ok = get_int(x, s, 65536, G_MAXINT, &qlimit);
		else if (!strcmp(k, "writetimeout"))
			ok = get_int(x, s, 100, 3600000, &c->writetimeout_ms);
		else if (!strcmp(k, "authfaildelay"))
			ok = get_int(x, s, 0, 60000, &c->authfaildelay_ms);
		else if (!strcmp(k, "authfailban"))
			ok = get_int(x, s, 0, 1000000, &c->authfailban);
		else if (!strcmp(k, "authfailbantime"))
			ok = get_int(x, s, 1, 86400, &c->authfailbantime_s);
		else if (!strcmp(k, "controlsocket"))
			ok = get_string(x, s, &c->controlsocket);
		else if (!strcmp(k, "webenabled"))
			ok = get_bool(x, s, &c->webenabled);
		else if (!strcmp(k, "httptimeout"))
			ok = get_int(x, s, 1, 86400, &c->httptimeout_s);
		else {
			warn(x, s, "unknown option 'general.%s' ignored", k);
			ok = TRUE;
		}
		if (!ok)
			return FALSE;
	}
	c->queuelimit = (gsize)qlimit;
	return TRUE;
}

static gboolean read_modules(Ctx *x, AmidConfig *c, config_setting_t *g)
{
	for (int i = 0; i < config_setting_length(g); i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		gboolean ok;
		if (!strcmp(k, "directory"))
			ok = get_string(x, s, &c->moduledir);
		else if (!strcmp(k, "autoload"))
			ok = get_bool(x, s, &c->autoload);
		else if (!strcmp(k, "load"))
			ok = get_string_list(x, s, c->load);
		else if (!strcmp(k, "noload"))
			ok = get_string_list(x, s, c->noload);
		else if (!strcmp(k, "preload"))
			ok = get_string_list(x, s, c->preload);
		else if (!strcmp(k, "require"))
			ok = get_string_list(x, s, c->require);
		else {
			warn(x, s, "unknown option 'modules.%s' ignored", k);
			ok = TRUE;
		}
		if (!ok)
			return FALSE;
	}
	return TRUE;
}

static gboolean read_user(Ctx *x, AmidConfig *c, config_setting_t *g)
{
	if (!config_setting_is_group(g))
		return fail(x, g, "each entry of 'users' must be a group { … }");

	AmidUser *u = g_new0(AmidUser, 1);
	u->displayconnects = c->displayconnects;
	u->writetimeout_ms = c->writetimeout_ms;
	u->allowmultiplelogin = c->allowmultiplelogin;
	gboolean ok = TRUE;
	for (int i = 0; ok && i < config_setting_length(g); i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		if (!strcmp(k, "username"))
			ok = get_string(x, s, &u->username);
		else if (!strcmp(k, "secret"))
			ok = get_string(x, s, &u->secret);
		else if (!strcmp(k, "read"))
			ok = get_classes(x, s, &u->readperm);
		else if (!strcmp(k, "write"))
			ok = get_classes(x, s, &u->writeperm);
		else if (!strcmp(k, "displayconnects"))
			ok = get_bool(x, s, &u->displayconnects);
		else if (!strcmp(k, "writetimeout"))
			ok = get_int(x, s, 100, 3600000, &u->writetimeout_ms);
		else if (!strcmp(k, "allowmultiplelogin"))
			ok = get_bool(x, s, &u->allowmultiplelogin);
		else if (!strcmp(k, "permit") || !strcmp(k, "deny"))
			ok = get_acl(x, s, k[0] == 'p', &u->acl);
		else if (!strcmp(k, "eventfilter"))
			ok = get_filters(x, s, &u->eventfilters);
		else if (!strcmp(k, "acl"))
			ok = get_named_acls(x, c, s, &u->named_acls);
		else
			warn(x, s, "unknown user option '%s' ignored", k);
	}
	if (ok && (!u->username || !*u->username))
		ok = fail(x, g, "user without 'username'");
	if (ok && strlen(u->username) > 79)
		ok = fail(x, g, "username longer than 79 characters");
	if (!ok) {
		user_free(u);
		return FALSE;
	}
	char *key = g_ascii_strdown(u->username, -1);
	if (g_hash_table_contains(c->users, key)) {
		g_free(key);
		fail(x, g, "user '%s' defined twice", u->username);
		user_free(u);
		return FALSE;
	}
	g_hash_table_insert(c->users, key, u);
	return TRUE;
}

static gboolean read_root(Ctx *x, AmidConfig *c, config_setting_t *root)
{
	/* Two passes: the users inherit general's defaults (allowmultiplelogin,
	 * displayconnects, writetimeout) wherever 'general' stands. */
	for (int i = 0; i < config_setting_length(root); i++) {
		config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *k = config_setting_name(s);
		if (!strcmp(k, "general") || !strcmp(k, "modules")) {
			if (!config_setting_is_group(s))
				return fail(x, s, "'%s' must be a group { … }", k);
			if (!(k[0] == 'g' ? read_general(x, c, s)
					  : read_modules(x, c, s)))
				return FALSE;
		} else if (!strcmp(k, "acls")) {
			if (!read_acls(x, c, s))
				return FALSE;
		} else if (strcmp(k, "users") && strcmp(k, "http")) {
			warn(x, s, "unknown section '%s' ignored", k);
		}
		/* "http" is read by mod_http */
	}
	for (int i = 0; i < config_setting_length(root); i++) {
		config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		if (strcmp(config_setting_name(s), "users"))
			continue;
		if (!config_setting_is_list(s))
			return fail(x, s, "'users' must be a list ( … )");
		for (int j = 0; j < config_setting_length(s); j++)
			if (!read_user(x, c, config_setting_get_elem(s, (unsigned)j)))
				return FALSE;
	}
	return TRUE;
}

AmidConfig *amid_config_load(const char *path, GError **error)
{
	config_t cf;
	config_init(&cf);
	Ctx x = {path, error};

	if (!config_read_file(&cf, path)) {
		if (config_error_type(&cf) == CONFIG_ERR_FILE_IO)
			g_set_error(error, AMID_CONFIG_ERROR, 1,
				    "%s: cannot read file", path);
		else
			g_set_error(error, AMID_CONFIG_ERROR, 1, "%s:%d: %s",
				    config_error_file(&cf) ? config_error_file(&cf)
							   : path,
				    config_error_line(&cf),
				    config_error_text(&cf));
		config_destroy(&cf);
		return NULL;
	}
	AmidConfig *c = config_new(path);
	gboolean ok = read_root(&x, c, config_root_setting(&cf));
	config_destroy(&cf);
	if (!ok) {
		amid_config_unref(c);
		return NULL;
	}
	finish_tls(c);
	return c;
}
