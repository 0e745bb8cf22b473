/*
 * Configuration: the libconfig file read into an immutable, refcounted
 * AmidConfig.  A reload builds a new one; the old one lives on while
 * anything still holds a reference.
 */
#ifndef AMID_CONFIG_H
#define AMID_CONFIG_H

#include <glib.h>

#include "acl.h"

G_BEGIN_DECLS

typedef struct {
	char *username; /* as configured */
	char *secret; /* NULL: no secret, login impossible */
	int readperm;
	int writeperm;
	gboolean displayconnects;
	int writetimeout_ms;
	gboolean allowmultiplelogin;
	AmidAcl *acl; /* permit/deny rules in file order; NULL = allow all */
	GPtrArray *named_acls; /* AmidAcl* of `acl = [...]`, borrowed from
				* the config's acls; each must allow too */
	GPtrArray *eventfilters; /* AmidFilter*, compiled at load */
} AmidUser;

/** One event filter: a regex over the whole event text, or its negation. */
typedef struct {
	gboolean exclude; /* the filter began with '!' */
	GRegex *regex;
} AmidFilter;

/**
 * Compile @text ("regex" or "!regex").  Returns NULL and sets @error when
 * the regex does not compile or is empty.
 */
AmidFilter *amid_filter_new(const char *text, GError **error);
void amid_filter_free(AmidFilter *f);
/** Filter rule: includes → must match one; excludes → must match none. */
gboolean amid_filters_allow(GPtrArray *filters, const char *text,
			    gssize len);

typedef struct {
	gint refcount;
	char *path;

	/* general */
	gboolean enabled;
	char *bindaddr;
	int port;
	gboolean tlsenable;
	char *tlsbindaddr; /* the address alone; default bindaddr */
	int tlsport; /* 5039 when tlsbindaddr has none or port's */
	char *tlscertfile;
	char *tlsprivatekey; /* NULL or "": the key is in tlscertfile */
	char *tlscipher; /* accepted, not applied (GnuTLS's policy) */
	char *ami_version;
	int authtimeout_s;
	int authlimit;
	gboolean timestampevents;
	gboolean displayconnects;
	gboolean allowmultiplelogin;
	char *systemname;
	int workers; /* 0 = number of cores */
	gsize queuelimit; /* bytes */
	int writetimeout_ms; /* default for users */
	int authfaildelay_ms;
	int authfailban; /* failed logins from one address before a ban; 0 off */
	int authfailbantime_s; /* ban length, and the window failures count in */
	/* Read by transports (mod_http reads them from the file itself);
	 * recognised here so they validate, no behaviour in the core. */
	gboolean webenabled; /* default false, as Asterisk */
	int httptimeout_s; /* default 60 */
	char *controlsocket; /* CLI control socket path; NULL = default
			      * (AMID_DEFAULT_CONTROLSOCKET), "" = none */

	/* modules */
	char *moduledir;
	gboolean autoload;
	GPtrArray *load; /* char*, in order */
	GPtrArray *noload; /* char* */
	GPtrArray *preload; /* char*, loaded first, in order */
	GPtrArray *require; /* char*: start-up fails without them */

	gboolean debug; /* log requests, add SequenceNumber to events */

	/* named ACLs (top-level `acls`): name → AmidAcl* */
	GHashTable *acls;

	/* users: key = lower-case username */
	GHashTable *users; /* char* -> AmidUser* */
} AmidConfig;

/**
 * Read and validate @path.  On error returns NULL and sets @error with
 * "file:line: what is wrong".  Warnings (unknown keys or class names) are
 * logged.
 */
AmidConfig *amid_config_load(const char *path, GError **error);
AmidConfig *amid_config_ref(AmidConfig *c);
void amid_config_unref(AmidConfig *c);
/**
 * Does every ACL of @u (its own permit/deny rules and each named `acl`)
 * allow @addr?  As Asterisk: several ACL lists must all allow.
 */
gboolean amid_user_acl_allows(const AmidUser *u, const char *addr);

/** Case-insensitive user lookup; borrowed from @c. */
const AmidUser *amid_config_find_user(const AmidConfig *c, const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(AmidConfig, amid_config_unref)

#define AMID_CONFIG_ERROR (amid_config_error_quark())
GQuark amid_config_error_quark(void);

G_END_DECLS

#endif
