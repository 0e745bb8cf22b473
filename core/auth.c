/*
 * Authentication: plain Login, the MD5 Challenge/Login pair, Logoff.
 * Every failure looks the same on the wire (a delayed "Authentication
 * failed" and a close); the log says what really happened.
 */
#include "auth.h"
#include "core.h"
#include "session.h"

#include <string.h>
#include <sys/random.h>

gboolean amid_auth_is_auth_action(const char *action)
{
	return !g_ascii_strcasecmp(action, "Login") ||
	       !g_ascii_strcasecmp(action, "Logoff") ||
	       !g_ascii_strcasecmp(action, "Challenge");
}

gboolean amid_auth_equal(const char *a, const char *b)
{
	gsize la = strlen(a), lb = strlen(b);
	guchar diff = la != lb;
	for (gsize i = 0; i < la; i++)
		diff |= (guchar)a[i] ^ (guchar)b[i % (lb ? lb : 1)];
	return diff == 0;
}

void amid_auth_new_challenge(char *out, gsize size)
{
	guint64 r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		g_error("getrandom failed: %s", g_strerror(errno));
	/* 16 digits, first one non-zero. */
	r = 1000000000000000ULL + r % 9000000000000000ULL;
	g_snprintf(out, size, "%" G_GUINT64_FORMAT, r);
}

gboolean amid_auth_md5_ok(const char *challenge, const char *secret,
			  const char *key)
{
	g_autoptr(GChecksum) md5 = g_checksum_new(G_CHECKSUM_MD5);
	g_checksum_update(md5, (const guchar *)challenge, (gssize)strlen(challenge));
	g_checksum_update(md5, (const guchar *)secret, (gssize)strlen(secret));
	return amid_auth_equal(g_checksum_get_string(md5), key);
}

/* ------------------------------------------------ per-address throttling */

typedef struct {
	int failures;
	gint64 first; /* monotonic µs of the first failure in the window */
	gint64 banned_until;
} FailRecord;

static GMutex fail_lock;
static GHashTable *fail_records; /* address → FailRecord* */

void amid_auth_note_failure(const char *addr)
{
	g_autoptr(AmidConfig) c = amid_core_config();
	if (!c || c->authfailban <= 0)
		return;
	gint64 now = g_get_monotonic_time();
	gint64 window = (gint64)c->authfailbantime_s * G_USEC_PER_SEC;
	g_mutex_lock(&fail_lock);
	if (!fail_records)
		fail_records = g_hash_table_new_full(g_str_hash, g_str_equal,
						     g_free, g_free);
	/* Forget stale entries now and then, so the table stays small. */
	if (g_hash_table_size(fail_records) > 10000) {
		GHashTableIter it;
		gpointer v;
		g_hash_table_iter_init(&it, fail_records);
		while (g_hash_table_iter_next(&it, NULL, &v)) {
			FailRecord *r = v;
			if (r->banned_until < now && now - r->first > window)
				g_hash_table_iter_remove(&it);
		}
	}
	FailRecord *r = g_hash_table_lookup(fail_records, addr);
	if (!r) {
		r = g_new0(FailRecord, 1);
		g_hash_table_insert(fail_records, g_strdup(addr), r);
	}
	if (now - r->first > window) {
		r->failures = 0;
		r->first = now;
	}
	if (++r->failures >= c->authfailban && r->banned_until < now) {
		r->banned_until = now + window;
		amid_log_security("AddressBanned", NULL, addr,
				  "too many failed logins");
	}
	g_mutex_unlock(&fail_lock);
}

gboolean amid_auth_banned(const char *addr)
{
	gboolean banned = FALSE;
	g_mutex_lock(&fail_lock);
	FailRecord *r = fail_records ? g_hash_table_lookup(fail_records, addr)
				     : NULL;
	if (r && r->banned_until > g_get_monotonic_time())
		banned = TRUE;
	g_mutex_unlock(&fail_lock);
	return banned;
}

static int fail(AmiSession *s, const AmiMessage *m, const char *event,
		const char *user, const char *why)
{
	amid_auth_note_failure(s->peer_addr);
	g_autofree char *shown = amid_log_escape(user);
	g_message("%s failed to authenticate as '%s'", s->peer, shown);
	amid_log_security(event, user, s->peer, why);
	amid_session_login_failed(s, m, "Authentication failed");
	return AMI_SUCCESS;
}

/*
 * allowmultiplelogin = false: a second session of the user is refused,
 * before any credential is checked (as Asterisk, on Login and Challenge).
 */
static gboolean login_in_use(AmiSession *s, const AmiMessage *m,
			     const AmidUser *u, const char *username)
{
	if (!u || u->allowmultiplelogin ||
	    amid_core_login_count(username, 0) == 0)
		return FALSE;
	g_autofree char *shown = amid_log_escape(username);
	g_message("%s: login of '%s' refused: already logged in and "
		  "allowmultiplelogin is off", s->peer, shown);
	amid_log_security("SessionLimit", username, s->peer,
			  "login already in use");
	amid_session_login_failed(s, m, "Login Already In Use");
	return TRUE;
}

/* Login: Username + Secret, or AuthType: MD5 + Key after a Challenge. */
static int action_login(AmiSession *s, const AmiMessage *m)
{
	if (s->authenticated) {
		ami_send_ack(s, m, "Already authenticated");
		return AMI_SUCCESS;
	}
	const char *username = ami_get_header(m, "Username");
	g_autoptr(AmidConfig) c = amid_core_config();
	const AmidUser *u = *username ? amid_config_find_user(c, username)
				      : NULL;
	if (!u) {
		g_autofree char *shown = amid_log_escape(username);
		g_message("%s tried to authenticate with nonexistent user '%s'",
			  s->peer, shown);
		return fail(s, m, "InvalidAccountID", username, "unknown user");
	}
	if (login_in_use(s, m, u, username))
		return AMI_SUCCESS;
	if (!amid_user_acl_allows(u, s->peer_addr)) {
		g_autofree char *shown = amid_log_escape(username);
		g_message("%s failed to pass IP ACL as '%s'", s->peer, shown);
		return fail(s, m, "FailedACL", username, "rejected by ACL");
	}
	if (!u->secret)
		return fail(s, m, "InvalidPassword", username,
			    "user has no secret");

	if (!g_ascii_strcasecmp(ami_get_header(m, "AuthType"), "MD5")) {
		if (!s->challenge[0])
			return fail(s, m, "ChallengeResponseFailed", username,
				    "MD5 login without Challenge");
		if (!amid_auth_md5_ok(s->challenge, u->secret,
				      ami_get_header(m, "Key")))
			return fail(s, m, "ChallengeResponseFailed", username,
				    "wrong MD5 key");
	} else if (!amid_auth_equal(ami_get_header(m, "Secret"), u->secret)) {
		return fail(s, m, "InvalidPassword", username, "wrong secret");
	}

	const char *events = ami_get_header(m, "Events");
	int mask = *events ? ami_parse_event_mask(events) : AMI_EVENT_FLAG_ALL;
	if (mask < 0)
		mask = AMI_EVENT_FLAG_ALL;

	ami_send_ack(s, m, "Authentication accepted");
	amid_session_login_ok(s, c, u, username, mask);
	return AMI_SUCCESS;
}

/* Challenge: AuthType MD5 → the session's challenge string. */
static int action_challenge(AmiSession *s, const AmiMessage *m)
{
	if (g_ascii_strcasecmp(ami_get_header(m, "AuthType"), "MD5") != 0) {
		ami_send_error(s, m, "Must specify AuthType");
		return AMI_SUCCESS;
	}
	const char *username = ami_get_header(m, "Username");
	if (!s->authenticated && *username) {
		g_autoptr(AmidConfig) c = amid_core_config();
		if (login_in_use(s, m, amid_config_find_user(c, username),
				 username))
			return AMI_SUCCESS;
	}
	if (!s->challenge[0])
		amid_auth_new_challenge(s->challenge, sizeof(s->challenge));
	ami_send_start_ack(s, m);
	ami_append(s, "Challenge: %s\r\n\r\n", s->challenge);
	return AMI_SUCCESS;
}

/* Logoff: Goodbye, then close. */
static int action_logoff(AmiSession *s, const AmiMessage *m)
{
	ami_send_response(s, m, "Goodbye", "Thanks for all the fish.");
	return AMI_DESTROY;
}

void amid_auth_register(void)
{
	ami_manager_register2("Login", 0, action_login, NULL,
			      "Log in to the manager.",
			      "Username and Secret, or AuthType: MD5, "
			      "Username and Key after a Challenge.  "
			      "Events: sets the session's event mask.");
	ami_manager_register2("Challenge", 0, action_challenge, NULL,
			      "Get a challenge for MD5 login.",
			      "AuthType: MD5.  Login then sends Key: the hex "
			      "MD5 of the challenge followed by the secret.");
	ami_manager_register2("Logoff", 0, action_logoff, NULL,
			      "Log off and close the session.", NULL);
}
