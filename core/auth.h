/* The core actions Login, Challenge and Logoff, and MD5 key checking. */
#ifndef AMID_AUTH_H
#define AMID_AUTH_H

#include <glib.h>

G_BEGIN_DECLS

/** Register Login, Challenge and Logoff as core actions. */
void amid_auth_register(void);

/** A fresh unpredictable challenge: decimal digits, NUL-terminated. */
void amid_auth_new_challenge(char *out, gsize size);

/**
 * Does @key equal the lower-case hex MD5 of @challenge followed by @secret?
 * Compared case-sensitively (as Asterisk) and in constant time.
 */
gboolean amid_auth_md5_ok(const char *challenge, const char *secret,
			  const char *key);

/**
 * Failed-login throttling per peer address (general.authfailban): record
 * a failure from @addr; after `authfailban` failures within
 * `authfailbantime` seconds the address is banned for that long.
 */
void amid_auth_note_failure(const char *addr);
/** Is @addr banned now?  (Always FALSE with authfailban = 0.) */
gboolean amid_auth_banned(const char *addr);

/** Login, Logoff or Challenge (any case): the actions allowed before login. */
gboolean amid_auth_is_auth_action(const char *action);

/** Constant-time string equality. */
gboolean amid_auth_equal(const char *a, const char *b);

G_END_DECLS

#endif
