/*
 * amid — the manager API: actions, messages, replies, events, sessions.
 *
 * Mirrors Asterisk's include/asterisk/manager.h (ast_manager_register2,
 * astman_get_header, astman_send_ack, manager_event, …) in amid's own names.
 *
 * Ownership: a message and everything read from it are borrowed for the
 * duration of the handler call.  Strings returned as `const char *` are
 * transfer none; `char *` / GPtrArray results are transfer full.
 */
#ifndef AMID_MANAGER_H
#define AMID_MANAGER_H

#include <stdarg.h>
#include <glib.h>

#include <amid/module.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------------------
 * Event classes / privileges (bit values of Asterisk's EVENT_FLAG_*).
 * ---------------------------------------------------------------------- */
#define AMI_EVENT_FLAG_SYSTEM (1 << 0)
#define AMI_EVENT_FLAG_CALL (1 << 1)
#define AMI_EVENT_FLAG_LOG (1 << 2)
#define AMI_EVENT_FLAG_VERBOSE (1 << 3)
#define AMI_EVENT_FLAG_COMMAND (1 << 4)
#define AMI_EVENT_FLAG_AGENT (1 << 5)
#define AMI_EVENT_FLAG_USER (1 << 6)
#define AMI_EVENT_FLAG_CONFIG (1 << 7)
#define AMI_EVENT_FLAG_DTMF (1 << 8)
#define AMI_EVENT_FLAG_REPORTING (1 << 9)
#define AMI_EVENT_FLAG_CDR (1 << 10)
#define AMI_EVENT_FLAG_DIALPLAN (1 << 11)
#define AMI_EVENT_FLAG_ORIGINATE (1 << 12)
#define AMI_EVENT_FLAG_AGI (1 << 13)
#define AMI_EVENT_FLAG_HOOKRESPONSE (1 << 14)
#define AMI_EVENT_FLAG_CC (1 << 15)
#define AMI_EVENT_FLAG_AOC (1 << 16)
#define AMI_EVENT_FLAG_TEST (1 << 17)
#define AMI_EVENT_FLAG_SECURITY (1 << 18)
#define AMI_EVENT_FLAG_MESSAGE (1 << 30)
/** Every class (Asterisk's EVENT_FLAG_ALL = INT_MAX). */
#define AMI_EVENT_FLAG_ALL 0x7fffffff

/**
 * Privilege string of a class bitmask, as in an event's `Privilege:` header
 * and ListCommands' `(Priv: …)`: every class name whose bits overlap
 * @mask, in Asterisk's table order, comma-joined, ending in "all"
 * ("user,all", "system,reporting,all"); 0 gives "<none>".
 * Returns a newly allocated string (transfer full, g_free it).
 * Thread safe.  Mirrors Asterisk's authority_to_str().
 */
AMI_API char *ami_authority_to_str(int mask);

/* ----------------------------------------------------------------------
 * Sessions and messages (opaque).
 * ---------------------------------------------------------------------- */

/** A manager session: a TCP/TLS connection, an HTTP session, or a hook. */
typedef struct AmiSession AmiSession;
/** One request: its header lines in arrival order. */
typedef struct AmiMessage AmiMessage;

/** Handler return values (Asterisk's AMI_SUCCESS / AMI_DESTROY). */
enum {
	AMI_SUCCESS = 0, /**< keep the session */
	AMI_DESTROY = -1, /**< close the session once the reply is written */
};

/**
 * An action handler.  Runs on the session's I/O worker thread, one action at
 * a time per session.  It must answer through ami_send_*() / ami_append()
 * only, and must not block (use AMI_ACTION_BLOCKING for that).
 */
typedef int (*AmiActionHandler)(AmiSession *s, const AmiMessage *m);

/**
 * Value of the first header named @name (case-insensitive; the name must be
 * followed directly by ':'), with leading blanks skipped and trailing ones
 * kept.  Never NULL: "" when absent.  Transfer none, valid while @m is.
 * Mirrors astman_get_header().
 */
AMI_API const char *ami_get_header(const AmiMessage *m, const char *name);

/** Number of header lines in @m (colon-less lines included). */
AMI_API guint ami_message_line_count(const AmiMessage *m);

/**
 * Header line @i of @m exactly as received, without its line terminator
 * (e.g. "Payload: hello: world").  NULL when @i is out of range.
 * Transfer none.  Used by UserEvent to copy the request's lines.
 */
AMI_API const char *ami_message_line(const AmiMessage *m, guint i);

/** One `Variable:` item. */
typedef struct AmiVariable {
	char *name;
	char *value;
} AmiVariable;

/**
 * Every `Variable:` header of @m, each split on commas (double quotes group
 * and are removed) into name=value items; items without '=' or with an empty
 * name are dropped.  Request order (Asterisk's ORDER_NATURAL).
 * Returns a GPtrArray of AmiVariable* with its free function set
 * (transfer full: g_ptr_array_unref it); never NULL.
 * Mirrors astman_get_variables_order(m, ORDER_NATURAL).
 */
AMI_API GPtrArray *ami_get_variables(const AmiMessage *m);

/* ----------------------------------------------------------------------
 * Actions.
 * ---------------------------------------------------------------------- */

/**
 * Register a manager action.
 * @action: the name clients send in `Action:`; matched case-insensitively
 *   and unique; copied.
 * @authority: write-class bitmask a user needs (any one shared class is
 *   enough, as in Asterisk); 0 = any logged-in user.
 * @func: the handler.
 * @module: the owning module (AMI_MODULE_SELF), or NULL for the core.  The
 *   core removes the action when that module unloads.
 * @synopsis: one line for ListCommands; copied; may be NULL.
 * @description: longer help; copied; may be NULL.
 * Returns 0, -EEXIST when the name is taken (a warning is logged), -EINVAL
 * on a NULL/empty name or handler.  Thread safe.
 * Mirrors ast_manager_register2().
 */
AMI_API int ami_manager_register2(const char *action, int authority,
				  AmiActionHandler func, AmiModule *module,
				  const char *synopsis,
				  const char *description);

/** Register with AMI_MODULE_SELF as owner (the ast_manager_register macro). */
#define ami_manager_register(action, authority, func, synopsis)            \
	ami_manager_register2(action, authority, func, AMI_MODULE_SELF,    \
			      synopsis, NULL)

/** Flags of an action definition. */
enum {
	/**
	 * The handler may block (disk, network, a database).  It then runs on a
	 * thread pool instead of the session's I/O worker: the session waits
	 * (its later requests run after it, in order), other sessions do not.
	 */
	AMI_ACTION_BLOCKING = 1 << 0,
};

/** One entry of an action table (see ami_manager_register_table()). */
typedef struct AmiActionDef {
	const char *name; /**< NULL ends the table */
	int authority; /**< write classes, 0 = any logged-in user */
	AmiActionHandler handler;
	const char *synopsis; /**< one line for ListCommands */
	const char *description; /**< longer help, may be NULL */
	guint flags; /**< AMI_ACTION_* */
} AmiActionDef;

/**
 * Register every action of @defs (a table ended by an entry whose name is
 * NULL), owned by @module.  All or nothing: when one fails, those already
 * registered are removed again.  The table's strings are copied.
 * Returns 0 or the first error (-EEXIST, -EINVAL).  Thread safe.
 */
AMI_API int ami_manager_register_table(AmiModule *module,
				       const AmiActionDef *defs);

/** Unregister every action of @defs.  Returns 0. */
AMI_API int ami_manager_unregister_table(const AmiActionDef *defs);

/**
 * ami_manager_register2() with flags (AMI_ACTION_BLOCKING).
 */
AMI_API int ami_manager_register_flags(const char *action, int authority,
				       AmiActionHandler func,
				       AmiModule *module,
				       const char *synopsis,
				       const char *description, guint flags);

/**
 * Remove a manager action.  New requests get the unknown-command error at
 * once; a call already running finishes.  Returns 0, or -ENOENT when no
 * such action is registered.  Thread safe.
 * Mirrors ast_manager_unregister().
 */
AMI_API int ami_manager_unregister(const char *action);

/** What ami_manager_foreach_action() reports of one action. */
typedef struct AmiActionInfo {
	const char *name; /**< as registered */
	int authority; /**< write-class bitmask, 0 = any */
	const char *synopsis; /**< "" when none */
	const char *description; /**< "" when none */
	const char *module; /**< owning module's name, "core" for the core */
	/** Times the action was run since it was registered (counted when a
	 * permitted request reaches its handler). */
	guint64 calls;
} AmiActionInfo;

/**
 * Call @cb for every registered action, sorted case-insensitively by name.
 * The AmiActionInfo is borrowed for the call only.  @cb must not register or
 * unregister actions.  Thread safe.
 */
AMI_API void ami_manager_foreach_action(void (*cb)(const AmiActionInfo *info,
						   void *data),
					void *data);

/* ----------------------------------------------------------------------
 * Replies.  Every ami_send_* writes one complete reply block; the
 * `ActionID:` of @m, when non-empty, goes right after the Response line.
 * They never fail from the handler's point of view: output is queued and
 * the core deals with a dead or slow peer.  Call only from the handler's
 * thread, while the handler runs.
 * ---------------------------------------------------------------------- */

/**
 * `Response: Success` [ActionID] `Message: <msg>` + blank line; with a NULL
 * @msg the Message line is omitted.  Mirrors astman_send_ack().
 */
AMI_API void ami_send_ack(AmiSession *s, const AmiMessage *m,
			  const char *msg);

/** `Response: Error` [ActionID] `Message: <msg>`.  Mirrors astman_send_error(). */
AMI_API void ami_send_error(AmiSession *s, const AmiMessage *m,
			    const char *msg);

/** ami_send_error() with a printf-style message.  Mirrors astman_send_error_va(). */
AMI_API void ami_send_error_va(AmiSession *s, const AmiMessage *m,
			       const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/**
 * `Response: <resp>` [ActionID] `Message: <msg>` (msg omitted when NULL).
 * Mirrors astman_send_response().
 */
AMI_API void ami_send_response(AmiSession *s, const AmiMessage *m,
			       const char *resp, const char *msg);

/**
 * Start of a list reply: `Response: Success` [ActionID] `EventList: <listflag>`
 * `Message: <msg>` + blank line.  @listflag is usually "start".
 * Mirrors astman_send_listack().
 */
AMI_API void ami_send_listack(AmiSession *s, const AmiMessage *m,
			      const char *msg, const char *listflag);

/**
 * `Response: Success` [ActionID] with no terminator: the handler appends
 * its fields with ami_append() and ends with "\r\n".
 * Mirrors astman_start_ack().
 */
AMI_API void ami_send_start_ack(AmiSession *s, const AmiMessage *m);

/**
 * Opens the event that ends a list: `Event: <event_name>` [ActionID]
 * `EventList: Complete` `ListItems: <count>`; append extra fields, then
 * call ami_send_list_complete_end().
 * Mirrors astman_send_list_complete_start().
 */
AMI_API void ami_send_list_complete_start(AmiSession *s, const AmiMessage *m,
					  const char *event_name, int count);

/** Ends the list-complete event (the blank line).  Mirrors astman_send_list_complete_end(). */
AMI_API void ami_send_list_complete_end(AmiSession *s);

/**
 * Append printf-formatted text to the reply, with no framing of its own.
 * Mirrors astman_append().
 */
AMI_API void ami_append(AmiSession *s, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);

/** The `ActionID: <id>\r\n` line for @m, or "" (transfer full, g_free it). */
AMI_API char *ami_action_id_line(const AmiMessage *m);

/* ----------------------------------------------------------------------
 * Events.
 * ---------------------------------------------------------------------- */

/**
 * Raise an event of class @category (AMI_EVENT_FLAG_* bits) named @event.
 * @fmt produces the body: zero or more "Key: value\r\n" lines.
 * The event is formatted once (`Event:`, `Privilege:`, optional
 * `Timestamp:`, body, blank line) and queued by reference to every
 * logged-in session whose effective read mask holds every bit of
 * @category.  Safe from any thread; never blocks on a slow client.
 * Returns 0, or -EINVAL for a bad name.
 * Mirrors manager_event().
 */
AMI_API int ami_manager_event(int category, const char *event,
			      const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/**
 * Raise an event from a prepared list of fields: @fields holds key, value,
 * key, value, … and ends with NULL.  Values are written verbatim (a CR or
 * LF in a value is replaced by a space so a field cannot inject lines).
 * Same delivery and thread safety as ami_manager_event().
 */
AMI_API int ami_manager_event_fields(int category, const char *event,
				     const char *const *fields);

/** ami_manager_event() with a va_list. */
AMI_API int ami_manager_event_va(int category, const char *event,
				 const char *fmt, va_list ap)
	G_GNUC_PRINTF(3, 0);

/* ----------------------------------------------------------------------
 * Session queries and controls.  Call from the session's handler.
 * ---------------------------------------------------------------------- */

/** Logged in? */
AMI_API gboolean ami_session_is_authenticated(const AmiSession *s);

/** The username given at login ("" before), transfer none. */
AMI_API const char *ami_session_username(const AmiSession *s);

/** The peer as "address:port" (IPv6 as "[addr]:port"), transfer none. */
AMI_API const char *ami_session_peer(const AmiSession *s);

/** The user's read (event) class mask. */
AMI_API int ami_session_readperm(const AmiSession *s);

/** The user's write (action) class mask. */
AMI_API int ami_session_writeperm(const AmiSession *s);

/**
 * Would an event of class @category reach @s (every bit in its effective
 * read mask)?  Mirrors astman_verify_session_readpermissions(), with
 * amid's delivery rule.
 */
AMI_API gboolean ami_session_can_read(const AmiSession *s, int category);

/**
 * May @s run an action of @authority (0, or any shared write class)?
 * Mirrors astman_verify_session_writepermissions().
 */
AMI_API gboolean ami_session_can_write(const AmiSession *s, int authority);

/**
 * Set the session's requested event mask (the `Events` action); the
 * effective mask stays within the user's read classes.  @mask is
 * AMI_EVENT_FLAG_* bits, 0 = no events.
 */
AMI_API void ami_session_set_event_mask(AmiSession *s, int mask);

/**
 * Add an event filter to session @s, as the Filter action does: @filter
 * is a regular expression (GRegex / PCRE syntax) matched against the whole
 * event text; a leading '!' makes it an exclude.  With includes, an event
 * must match one; with excludes, it must match none.  Filters add to the
 * user's `eventfilter`s and last as long as the session.
 * Returns 0, or -EINVAL when the pattern is empty or does not compile
 * (@error_out, when not NULL, then receives the reason: transfer full).
 */
AMI_API int ami_session_add_filter(AmiSession *s, const char *filter,
				   char **error_out);

/**
 * Parse an `Events:` / `EventMask:` value as Asterisk does: decimal digits,
 * on/off/yes/no/true/false words, or a class list.  Returns the mask, or -1
 * for an empty value.  Thread safe.  Mirrors Asterisk's strings_to_mask().
 */
AMI_API int ami_parse_event_mask(const char *value);

/**
 * Implements the WaitEvent action for @s: sends
 * `Response: Success` [ActionID] `Message: Waiting for Event completed.`,
 * then waits (without blocking the worker) until at least one event has
 * been written to the session, the client sends more bytes, or
 * @timeout_s seconds pass (-1 = no limit), and then sends
 * `Event: WaitEventComplete` [ActionID].  Later requests of the session are
 * processed only after that.  Returns AMI_SUCCESS.
 */
AMI_API int ami_session_wait_event(AmiSession *s, const AmiMessage *m,
				   int timeout_s);

/* ----------------------------------------------------------------------
 * Core information (CoreSettings / CoreStatus).  Thread safe.
 * ---------------------------------------------------------------------- */

/** The AMI version in the banner, e.g. "1.1" (transfer none). */
AMI_API const char *ami_core_ami_version(void);
/** amid's own version, e.g. "0.1.0" (transfer none). */
AMI_API const char *ami_core_version(void);
/** The configured system name, "" when none (transfer none). */
AMI_API const char *ami_core_system_name(void);
/**
 * Path of the configuration file the daemon runs with (transfer none;
 * stays valid).  A module with its own section (e.g. `http` for mod_http)
 * reads that section from this file itself, at load and on reload, so the
 * core needs no knowledge of it.
 */
AMI_API const char *ami_core_config_path(void);
/**
 * Digest credentials of a configured user: writes the lower-case hex
 * MD5("<username>:<realm>:<secret>") (RFC 2617 H(A1), 32 digits and a NUL)
 * into @out.  The secret itself never leaves the core.  For transports
 * with their own digest authentication (HTTP digest in mod_http).
 * Returns 0, -ENOENT for an unknown user or one without a secret,
 * -EINVAL for NULL arguments.  Thread safe.
 */
AMI_API int ami_user_digest_a1(const char *username, const char *realm,
			       char out[33]);
/**
 * A snapshot of the core's counters (ami_core_stats()).  Counters
 * ("_total") only grow from start-up; the others are current values.
 * Append-only: new fields go at the end, and @size tells which exist.
 */
typedef struct AmiCoreStats {
	/** Set by the caller to sizeof(AmiCoreStats); the core fills only
	 * the fields that fit, and sets it to the size it filled. */
	guint32 size;
	guint32 modules_loaded; /**< modules loaded now */
	guint64 sessions_opened_total; /**< TCP, TLS and virtual sessions */
	guint64 sessions_closed_total;
	guint64 sessions_current; /**< open now */
	guint64 sessions_authenticated; /**< logged in now */
	guint64 logins_ok_total;
	guint64 logins_failed_total; /**< failed Login (any reason) */
	guint64 actions_total; /**< requests that reached a handler */
	guint64 actions_denied_total; /**< refused: Permission denied */
	guint64 actions_unknown_total; /**< Invalid/unknown command */
	guint64 events_emitted_total; /**< events raised (formatted once) */
	guint64 events_delivered_total; /**< queued to a session */
	guint64 events_filtered_total; /**< kept from a session by its filters */
	guint64 events_dropped_total; /**< lost: the session's queue overflowed */
	guint64 bytes_in_total; /**< request bytes read from clients */
	guint64 bytes_out_total; /**< bytes written to clients (and sinks) */
	guint64 queued_bytes; /**< output waiting in session queues now */
} AmiCoreStats;

/**
 * Fill @out (whose `size` the caller set) with the current counters.
 * Per-action counts come with ami_manager_foreach_action() (`calls`).
 * Returns 0, or -EINVAL for NULL or a size below the first fields.
 * Thread safe; lock-free counters, so the values are each exact but not
 * one atomic picture.
 */
AMI_API int ami_core_stats(AmiCoreStats *out);
/** Start-up time, µs since the epoch (g_get_real_time() units). */
AMI_API gint64 ami_core_startup_time(void);
/** Time of the last configuration reload, µs since the epoch. */
AMI_API gint64 ami_core_reload_time(void);
/**
 * Re-read the configuration file the daemon started with (the Reload
 * action, SIGHUP).  A file that fails to parse or validate is refused and
 * the running configuration stays (@error_out receives "file:line: what",
 * transfer full).  On success live sessions take their user's new
 * permissions and filters; sessions of removed users are closed.
 * Listener changes (bindaddr, port) need a restart.  Returns 0 or -EINVAL.
 * Thread safe.  Mirrors the config part of Asterisk's manager reload.
 */
AMI_API int ami_core_reload_config(char **error_out);

/** Has start-up module loading finished (FullyBooted sent)? */
AMI_API gboolean ami_core_fully_booted(void);

#ifdef __cplusplus
}
#endif

#endif /* AMID_MANAGER_H */
