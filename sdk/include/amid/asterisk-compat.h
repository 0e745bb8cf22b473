/*
 * amid — Asterisk manager API names mapped onto amid's SDK.
 *
 * Include this instead of <asterisk/manager.h> when porting an Asterisk
 * manager module: handlers keep their Asterisk shape
 *
 *     static int action_x(struct mansession *s, const struct message *m)
 *     {
 *         const char *v = astman_get_header(m, "Value");
 *         astman_send_ack(s, m, "Done");
 *         return 0;
 *     }
 *
 * and register with ast_manager_register2() / ast_manager_register() as
 * before.  What has no counterpart (channels, ast_str, XML documentation)
 * is not mapped.  Each macro below has the behaviour of the amid function
 * it names; see manager.h, datastore.h and hook.h.
 */
#ifndef AMID_ASTERISK_COMPAT_H
#define AMID_ASTERISK_COMPAT_H

#include <amid/amid.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Types.  `struct mansession` and `struct message` stay distinct, never
 * defined tags: an Asterisk handler `int f(struct mansession *, const
 * struct message *)` keeps its signature, and every macro below converts
 * the pointers to amid's AmiSession / AmiMessage (same objects).
 */
struct mansession;
struct message;
#define AMI_COMPAT_S_(s) ((AmiSession *)(void *)(s))
#define AMI_COMPAT_M_(m) ((const AmiMessage *)(const void *)(m))
#define AMI_COMPAT_HANDLER_(f) ((AmiActionHandler)(void (*)(void))(f))
struct ast_module; /* never defined: Asterisk modules pass NULL or self */
#define ast_datastore AmiDatastore
#define ast_datastore_info AmiDatastoreInfo

/* Event classes. */
#define EVENT_FLAG_SYSTEM AMI_EVENT_FLAG_SYSTEM
#define EVENT_FLAG_CALL AMI_EVENT_FLAG_CALL
#define EVENT_FLAG_LOG AMI_EVENT_FLAG_LOG
#define EVENT_FLAG_VERBOSE AMI_EVENT_FLAG_VERBOSE
#define EVENT_FLAG_COMMAND AMI_EVENT_FLAG_COMMAND
#define EVENT_FLAG_AGENT AMI_EVENT_FLAG_AGENT
#define EVENT_FLAG_USER AMI_EVENT_FLAG_USER
#define EVENT_FLAG_CONFIG AMI_EVENT_FLAG_CONFIG
#define EVENT_FLAG_DTMF AMI_EVENT_FLAG_DTMF
#define EVENT_FLAG_REPORTING AMI_EVENT_FLAG_REPORTING
#define EVENT_FLAG_CDR AMI_EVENT_FLAG_CDR
#define EVENT_FLAG_DIALPLAN AMI_EVENT_FLAG_DIALPLAN
#define EVENT_FLAG_ORIGINATE AMI_EVENT_FLAG_ORIGINATE
#define EVENT_FLAG_AGI AMI_EVENT_FLAG_AGI
#define EVENT_FLAG_HOOKRESPONSE AMI_EVENT_FLAG_HOOKRESPONSE
#define EVENT_FLAG_CC AMI_EVENT_FLAG_CC
#define EVENT_FLAG_AOC AMI_EVENT_FLAG_AOC
#define EVENT_FLAG_TEST AMI_EVENT_FLAG_TEST
#define EVENT_FLAG_SECURITY AMI_EVENT_FLAG_SECURITY
#define EVENT_FLAG_MESSAGE AMI_EVENT_FLAG_MESSAGE
#define EVENT_FLAG_SHUTDOWN (-1)

/* Module load results. */
#define AST_MODULE_LOAD_SUCCESS AMI_MODULE_LOAD_SUCCESS
#define AST_MODULE_LOAD_DECLINE AMI_MODULE_LOAD_DECLINE
#define AST_MODULE_LOAD_FAILURE AMI_MODULE_LOAD_FAILURE
/* Asterisk's "skip" (not loaded, not an error) is amid's decline. */
#define AST_MODULE_LOAD_SKIP AMI_MODULE_LOAD_DECLINE

/*
 * Registration.  Asterisk's `module` argument is replaced by the calling
 * amid module's own handle, so registrations are swept on unload.
 */
#define ast_manager_register2(action, authority, func, module, synopsis,   \
			      description)                                 \
	ami_manager_register2(action, authority, AMI_COMPAT_HANDLER_(func), \
			      AMI_MODULE_SELF, synopsis, description)
#define ast_manager_register(action, authority, func, synopsis)            \
	ami_manager_register2(action, authority, AMI_COMPAT_HANDLER_(func), \
			      AMI_MODULE_SELF, synopsis, NULL)
#define ast_manager_register_xml(action, authority, func)                  \
	ami_manager_register2(action, authority, AMI_COMPAT_HANDLER_(func), \
			      AMI_MODULE_SELF, NULL, NULL)
#define ast_manager_unregister(action) ami_manager_unregister(action)

/* Reading requests. */
#define astman_get_header(m, name) ami_get_header(AMI_COMPAT_M_(m), name)

/* Replies. */
#define astman_send_ack(s, m, msg)                                         \
	ami_send_ack(AMI_COMPAT_S_(s), AMI_COMPAT_M_(m), msg)
#define astman_send_error(s, m, msg)                                       \
	ami_send_error(AMI_COMPAT_S_(s), AMI_COMPAT_M_(m), msg)
#define astman_send_error_va(s, m, ...)                                    \
	ami_send_error_va(AMI_COMPAT_S_(s), AMI_COMPAT_M_(m), __VA_ARGS__)
#define astman_send_response(s, m, resp, msg)                              \
	ami_send_response(AMI_COMPAT_S_(s), AMI_COMPAT_M_(m), resp, msg)
#define astman_send_listack(s, m, msg, listflag)                           \
	ami_send_listack(AMI_COMPAT_S_(s), AMI_COMPAT_M_(m), msg, listflag)
#define astman_start_ack(s, m)                                             \
	ami_send_start_ack(AMI_COMPAT_S_(s), AMI_COMPAT_M_(m))
#define astman_send_list_complete_start(s, m, event_name, count)          \
	ami_send_list_complete_start(AMI_COMPAT_S_(s), AMI_COMPAT_M_(m),     \
				     event_name, count)
#define astman_send_list_complete_end(s)                                   \
	ami_send_list_complete_end(AMI_COMPAT_S_(s))
#define astman_append(s, ...) ami_append(AMI_COMPAT_S_(s), __VA_ARGS__)

/* Events. */
#define manager_event(category, event, ...)                                \
	ami_manager_event(category, event, __VA_ARGS__)

/* Datastores. */
#define ast_datastore_alloc(info, uid) ami_datastore_alloc(info, uid)
#define ast_datastore_free(ds) ami_datastore_free(ds)
#define astman_datastore_add(s, ds)                                        \
	ami_session_datastore_add(AMI_COMPAT_S_(s), ds)
#define astman_datastore_remove(s, ds)                                     \
	ami_session_datastore_remove(AMI_COMPAT_S_(s), ds)
#define astman_datastore_find(s, info, uid)                                \
	ami_session_datastore_find(AMI_COMPAT_S_(s), info, uid)

/* Permission checks on a session (amid takes the session, not an id). */
#define astman_verify_session_readpermissions(s, perm)                     \
	ami_session_can_read(AMI_COMPAT_S_(s), perm)
#define astman_verify_session_writepermissions(s, perm)                    \
	ami_session_can_write(AMI_COMPAT_S_(s), perm)
#define astman_is_authed(s) ami_session_is_authenticated(AMI_COMPAT_S_(s))

/*
 * Hooks.  Asterisk's struct manager_custom_hook { file, helper } becomes a
 * registration call; the hook runs actions with the write classes given.
 */
typedef AmiHookFunc manager_hook_t;
#define ast_manager_register_hook_full(helper, data, writeperm)            \
	ami_hook_register(AMI_MODULE_SELF, helper, data, writeperm)
#define ast_manager_unregister_hook(hook) ami_hook_unregister(hook)
#define ast_hook_send_action(hook, msg) ami_hook_send_action(hook, msg)

/* String helpers manager code leans on (Asterisk's strings.h / utils.h). */

/** Mirrors ast_strlen_zero(): TRUE for NULL or "". */
static inline int ast_strlen_zero(const char *s)
{
	return !s || !*s;
}

/* TRUE when @s is one of @words (any case).  Internal to this header. */
static inline int ami_compat_word_in_(const char *s, const char *const *words)
{
	if (ast_strlen_zero(s))
		return 0;
	for (; *words; words++)
		if (!g_ascii_strcasecmp(s, *words))
			return 1;
	return 0;
}

/** Mirrors ast_true(): "yes", "true", "y", "t", "1", "on" (any case). */
static inline int ast_true(const char *s)
{
	static const char *const words[] = {"yes", "true", "y", "t", "1",
					    "on", NULL};
	return ami_compat_word_in_(s, words) ? -1 : 0;
}

/** Mirrors ast_false(): "no", "false", "n", "f", "0", "off" (any case). */
static inline int ast_false(const char *s)
{
	static const char *const words[] = {"no", "false", "n", "f", "0",
					    "off", NULL};
	return ami_compat_word_in_(s, words) ? -1 : 0;
}

/*
 * The module descriptor.  An Asterisk module ends with
 *
 *     AST_MODULE_INFO_STANDARD(ASTERISK_GPL_KEY, "Description");
 *
 * after `static int load_module(void)` and `static int unload_module(void)`
 * (and `static int reload(void)` for AST_MODULE_INFO_RELOADABLE).  amid
 * takes the module's name from AST_MODULE, which Asterisk's build defines:
 * define it before including this header (`#define AST_MODULE "mod_x"`),
 * and name the file after it (mod_x.so).  `ast_module_info->self`, passed
 * to the registration macros above, is never evaluated.
 * Asterisk's general AST_MODULE_INFO(key, flags, desc, fields…) is not
 * mapped: its callbacks take no argument; use AMI_MODULE_INFO instead.
 */
#define ASTERISK_GPL_KEY "amid-asterisk-compat"

#define AMI_COMPAT_LOAD_UNLOAD_                                            \
	static AmiModuleLoadResult ami_compat_load_(AmiModule *self)       \
	{                                                                  \
		(void)self;                                                \
		return (AmiModuleLoadResult)load_module();                 \
	}                                                                  \
	static int ami_compat_unload_(AmiModule *self)                     \
	{                                                                  \
		(void)self;                                                \
		return unload_module();                                    \
	}

#define AST_MODULE_INFO_STANDARD(keystr, desc)                             \
	AMI_COMPAT_LOAD_UNLOAD_                                            \
	AMI_MODULE_INFO(AST_MODULE, desc, .load = ami_compat_load_,        \
			.unload = ami_compat_unload_)

#define AST_MODULE_INFO_RELOADABLE(keystr, desc)                           \
	AMI_COMPAT_LOAD_UNLOAD_                                            \
	static int ami_compat_reload_(AmiModule *self)                     \
	{                                                                  \
		(void)self;                                                \
		return reload();                                           \
	}                                                                  \
	AMI_MODULE_INFO(AST_MODULE, desc, .load = ami_compat_load_,        \
			.unload = ami_compat_unload_,                      \
			.reload = ami_compat_reload_)

/* Handler return codes: AMI_SUCCESS and AMI_DESTROY are amid's too. */

#ifdef __cplusplus
}
#endif

#endif /* AMID_ASTERISK_COMPAT_H */
