/*
 * Custom hooks (manager_custom_hook).  Hooks are called synchronously in
 * the thread that raised the event, outside any lock, each call holding
 * its module busy so that an unload cannot pull the code away.
 */
#include "hooks.h"
#include "actions.h"
#include "auth.h"
#include "loader.h"
#include "message.h"
#include "session.h"

#include <errno.h>

struct AmiHook {
	gint refcount;
	gint registered;
	AmiModule *module;
	AmiHookFunc func;
	void *data;
	int writeperm;
};

static GRWLock lock;
static GPtrArray *hooks; /* AmiHook* */
static gint n_hooks; /* fast path: no hooks, no work */

static AmiHook *hook_ref(AmiHook *h)
{
	g_atomic_int_inc(&h->refcount);
	return h;
}

static void hook_unref(AmiHook *h)
{
	if (g_atomic_int_dec_and_test(&h->refcount))
		g_free(h);
}

AMI_API AmiHook *ami_hook_register(AmiModule *module, AmiHookFunc func,
				   void *data, int writeperm)
{
	if (!func)
		return NULL;
	AmiHook *h = g_new0(AmiHook, 1);
	h->refcount = 1;
	h->registered = 1;
	h->module = module;
	h->func = func;
	h->data = data;
	h->writeperm = writeperm;
	g_rw_lock_writer_lock(&lock);
	if (!hooks)
		hooks = g_ptr_array_new();
	g_ptr_array_add(hooks, h);
	g_atomic_int_set(&n_hooks, (gint)hooks->len);
	g_rw_lock_writer_unlock(&lock);
	return h;
}

static void remove_locked(AmiHook *h)
{
	if (g_ptr_array_remove(hooks, h)) {
		g_atomic_int_set(&h->registered, 0);
		g_atomic_int_set(&n_hooks, (gint)hooks->len);
		hook_unref(h);
	}
}

AMI_API void ami_hook_unregister(AmiHook *hook)
{
	if (!hook)
		return;
	g_rw_lock_writer_lock(&lock);
	if (hooks)
		remove_locked(hook);
	g_rw_lock_writer_unlock(&lock);
}

guint amid_hooks_sweep_module(AmiModule *module)
{
	guint n = 0;
	g_rw_lock_writer_lock(&lock);
	for (guint i = 0; hooks && i < hooks->len;) {
		AmiHook *h = hooks->pdata[i];
		if (h->module != module) {
			i++;
			continue;
		}
		g_warning("module %s left a hook registered; removed",
			  ami_module_name(module));
		remove_locked(h);
		n++;
	}
	g_rw_lock_writer_unlock(&lock);
	return n;
}

static void call_one(AmiHook *h, int category, const char *event,
		     const char *text)
{
	if (!g_atomic_int_get(&h->registered))
		return;
	if (h->module && !amid_module_enter(h->module))
		return;
	h->func(category, event, text, h->data);
	if (h->module)
		amid_module_leave(h->module);
}

void amid_hooks_call(int category, const char *event, const char *text)
{
	if (g_atomic_int_get(&n_hooks) == 0)
		return;
	AmiHook *local[16];
	AmiHook **list = local;
	guint n = 0;

	g_rw_lock_reader_lock(&lock);
	if (hooks->len > G_N_ELEMENTS(local))
		list = g_new(AmiHook *, hooks->len);
	for (guint i = 0; i < hooks->len; i++)
		list[n++] = hook_ref(hooks->pdata[i]);
	g_rw_lock_reader_unlock(&lock);

	for (guint i = 0; i < n; i++) {
		call_one(list[i], category, event, text);
		hook_unref(list[i]);
	}
	if (list != local)
		g_free(list);
}

AMI_API int ami_hook_send_action(AmiHook *hook, const char *msg)
{
	if (!hook || !msg)
		return -EINVAL;
	g_autoptr(AmiMessage) m = amid_message_parse_text(msg);
	const char *action = amid_message_action(m);
	if (!*action)
		return -EINVAL;
	if (amid_auth_is_auth_action(action))
		return -EPERM;

	AmidAction *a = NULL;
	switch (amid_actions_acquire(action, hook->writeperm, &a)) {
	case AMID_LOOKUP_UNKNOWN:
		return -ENOENT;
	case AMID_LOOKUP_DENIED:
		return -EPERM;
	case AMID_LOOKUP_FOUND:
		break;
	}
	if (amid_action_flags(a) & AMI_ACTION_BLOCKING) {
		amid_action_release(a);
		return -EPERM;
	}

	AmiSession *s = amid_session_new_detached("hook", hook->writeperm);
	amid_action_call(a, s, m);
	amid_action_release(a);
	const char *text = amid_session_detached_output(s);
	if (*text)
		call_one(hook, AMI_EVENT_FLAG_HOOKRESPONSE, "HookResponse",
			 text);
	amid_session_free(s);
	return 0;
}
