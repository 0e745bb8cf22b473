/*
 * Process-wide state of the daemon (never exported to modules): the current
 * configuration, start-up and boot flags, and the counters the listener
 * needs.  Everything here is thread safe.
 */
#ifndef AMID_CORE_H
#define AMID_CORE_H

#include <glib.h>
#include "config.h"

G_BEGIN_DECLS

/** Install @c as the current configuration (takes a reference). */
void amid_core_set_config(AmidConfig *c);
/** The current configuration (transfer full: amid_config_unref). */
AmidConfig *amid_core_config(void);
/** Frequently read settings, without taking a reference. */
gboolean amid_core_timestampevents(void);
/** general.debug: log requests, number events. */
gboolean amid_core_debug(void);

void amid_core_mark_started(void);
/** Set the fully-booted flag (once). */
void amid_core_mark_booted(void);

/**
 * The main thread's loop, which amid_core_request_stop() ends (NULL to
 * forget it).  The core does not take a reference.
 */
void amid_core_set_main_loop(GMainLoop *loop);
/**
 * Ask the daemon to stop as SIGTERM does (the main loop quits; main()
 * then closes every session and unloads the modules).  Logs @why.
 * Returns FALSE when there is no main loop to stop.  Thread safe.
 */
gboolean amid_core_request_stop(const char *why);

/** Unauthenticated session accounting for authlimit. */
gboolean amid_core_unauth_try_add(int limit);
void amid_core_unauth_remove(void);

/**
 * Count logged-in sessions per user (case-insensitive): add @delta and
 * return the new count; @delta 0 just reads it.
 */
int amid_core_login_count(const char *username, int delta);

/** Core statistics (ami_core_stats()): lock-free counters. */
typedef enum {
	AMID_STAT_SESSIONS_OPENED,
	AMID_STAT_SESSIONS_CLOSED,
	AMID_STAT_SESSIONS_AUTHED, /* gauge */
	AMID_STAT_LOGINS_OK,
	AMID_STAT_LOGINS_FAILED,
	AMID_STAT_ACTIONS,
	AMID_STAT_ACTIONS_DENIED,
	AMID_STAT_ACTIONS_UNKNOWN,
	AMID_STAT_EVENTS_EMITTED,
	AMID_STAT_EVENTS_DELIVERED,
	AMID_STAT_EVENTS_FILTERED,
	AMID_STAT_EVENTS_DROPPED,
	AMID_STAT_BYTES_IN,
	AMID_STAT_BYTES_OUT,
	AMID_STAT_QUEUED_BYTES, /* gauge */
	AMID_STAT_N
} AmidStat;
extern gint64 amid_stats[AMID_STAT_N];
static inline void amid_stat_add(AmidStat k, gint64 n)
{
	__atomic_fetch_add(&amid_stats[k], n, __ATOMIC_RELAXED);
}

/** FullyBooted event text (transfer full). */
GBytes *amid_core_fullybooted_event(void);

/** Security log line in the stable, fail2ban-friendly format. */
void amid_log_security(const char *event, const char *user,
		       const char *peer, const char *reason);
/**
 * Copy of client-supplied text for a log line (transfer full): quotes,
 * backslashes, control bytes and bytes that are not UTF-8 become \xNN,
 * so the text can neither end its quoted field nor start a new line.
 */
char *amid_log_escape(const char *text);

G_END_DECLS

#endif
