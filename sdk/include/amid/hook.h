/*
 * amid — custom hooks: a module sees every event and can run actions as if
 * it were a logged-in session.
 *
 * Mirrors Asterisk's manager_custom_hook, ast_manager_register_hook,
 * ast_manager_unregister_hook and ast_hook_send_action.
 */
#ifndef AMID_HOOK_H
#define AMID_HOOK_H

#include <glib.h>

#include <amid/module.h>
#include <amid/manager.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Called for every event raised (no permission or filter check), and for
 * every response to an action the hook sent, which arrives as an event of
 * class AMI_EVENT_FLAG_HOOKRESPONSE named "HookResponse".
 * @category: the event's class bits; @event: its name; @body: the whole
 * formatted event text ("Event: …\r\n…\r\n\r\n") or the response text.
 * All borrowed for the call.  Runs synchronously in the thread that raised
 * the event (any thread): keep it short and do not block.
 * The return value is ignored (kept for Asterisk compatibility).
 */
typedef int (*AmiHookFunc)(int category, const char *event, const char *body,
			   void *data);

/** A registered hook (opaque). */
typedef struct AmiHook AmiHook;

/**
 * Register a hook owned by @module (AMI_MODULE_SELF).
 * @writeperm: the write classes of actions sent through
 *   ami_hook_send_action() (AMI_EVENT_FLAG_*; unlike Asterisk, which runs
 *   hook actions with no permission check at all).
 * Returns the hook (owned by the core; removed by ami_hook_unregister() or
 * when @module unloads), or NULL when @func is NULL.  Thread safe.
 * Mirrors ast_manager_register_hook().
 */
AMI_API AmiHook *ami_hook_register(AmiModule *module, AmiHookFunc func,
				   void *data, int writeperm);

/**
 * Remove @hook; after it returns the hook is not called again (a call
 * already running in another thread may still be finishing).  NULL is
 * ignored.  Thread safe.  Mirrors ast_manager_unregister_hook().
 */
AMI_API void ami_hook_unregister(AmiHook *hook);

/**
 * Run one action for @hook.  @msg is the request as text ("Action: Ping\r\n
 * ActionID: 1\r\n", CRLF or LF line ends).  The handler runs in the calling
 * thread, in a private session logged in with the hook's writeperm (read
 * mask 0: it receives no events); its reply text reaches the hook's
 * function as a HookResponse before this returns.  Login, Logoff,
 * Challenge and actions registered as blocking are refused.
 * Returns 0 when the action ran (even if it answered an error), -EINVAL for
 * a NULL hook or a message without Action, -ENOENT for an unknown action,
 * -EPERM when writeperm does not cover it.
 * Mirrors ast_hook_send_action().
 */
AMI_API int ami_hook_send_action(AmiHook *hook, const char *msg);

#ifdef __cplusplus
}
#endif

#endif /* AMID_HOOK_H */
