// Custom hooks: events reach every hook (no worker runs, so publishing is a
// no-op but hooks are still called), ami_hook_send_action() runs actions in
// a private session, and a module's hooks are swept when it goes.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "shim.h"

#ifndef AMID_TEST_MODULE_DIR
#define AMID_TEST_MODULE_DIR "tests/modules/.libs"
#endif

namespace {

struct Seen {
	int category;
	std::string name, body;
	void *data;
};

// Every call of every hook, in order.
std::vector<Seen> seen;

int record(int category, const char *event, const char *body, void *data)
{
	seen.push_back({category, event, body, data});
	return 0;
}

std::string priv(int mask)
{
	return take_str(ami_authority_to_str(mask));
}

// What the test action saw of its session.
struct {
	int calls;
	std::string username;
	int writeperm, readperm;
	bool authenticated;
} echo;

// UnitHookEcho: start_ack, then `Value: <the Value header>`.
int action_echo(AmiSession *s, const AmiMessage *m)
{
	echo.calls++;
	echo.username = ami_session_username(s);
	echo.writeperm = ami_session_writeperm(s);
	echo.readperm = ami_session_readperm(s);
	echo.authenticated = ami_session_is_authenticated(s);
	ami_send_start_ack(s, m);
	ami_append(s, "Value: %s\r\n\r\n", ami_get_header(m, "Value"));
	return AMI_SUCCESS;
}

int action_error(AmiSession *s, const AmiMessage *m)
{
	ami_send_error(s, m, "no luck");
	return AMI_SUCCESS;
}

int action_silent(AmiSession *, const AmiMessage *)
{
	return AMI_SUCCESS;
}

class Hooks : public ::testing::Test {
protected:
	std::vector<AmiHook *> hooks;
	std::vector<std::string> actions;

	void SetUp() override
	{
		amid_actions_init();
		seen.clear();
		echo = {};
	}

	void TearDown() override
	{
		for (AmiHook *h : hooks)
			ami_hook_unregister(h);
		for (const std::string &a : actions)
			ami_manager_unregister(a.c_str());
	}

	AmiHook *hook(int writeperm = 0, void *data = nullptr)
	{
		AmiHook *h = ami_hook_register(nullptr, record, data, writeperm);
		EXPECT_NE(h, nullptr);
		hooks.push_back(h);
		return h;
	}

	void action(const char *name, int authority, AmiActionHandler f,
		    guint flags = 0)
	{
		ASSERT_EQ(ami_manager_register_flags(name, authority, f, nullptr,
						     nullptr, nullptr, flags),
			  0);
		actions.emplace_back(name);
	}
};

} // namespace

TEST_F(Hooks, RegisterNeedsAFunction)
{
	EXPECT_EQ(ami_hook_register(nullptr, nullptr, nullptr, 0), nullptr);
	ami_hook_unregister(nullptr); // ignored
}

TEST_F(Hooks, SeeEvents)
{
	int tag;
	hook(0, &tag);
	EXPECT_EQ(ami_manager_event(AMI_EVENT_FLAG_USER, "UnitEvent",
				    "Key: %s\r\nOther: %d\r\n", "value", 7),
		  0);
	ASSERT_EQ(seen.size(), 1u);
	EXPECT_EQ(seen[0].category, AMI_EVENT_FLAG_USER);
	EXPECT_EQ(seen[0].name, "UnitEvent");
	EXPECT_EQ(seen[0].body, "Event: UnitEvent\r\nPrivilege: " +
					priv(AMI_EVENT_FLAG_USER) +
					"\r\nKey: value\r\nOther: 7\r\n\r\n");
	EXPECT_EQ(seen[0].data, &tag);

	// Any class, no body, an unterminated body, the fields form.
	ami_manager_event(AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_CALL,
			  "Bare", nullptr);
	ami_manager_event(AMI_EVENT_FLAG_SECURITY, "Open", "Key: v");
	const char *fields[] = {"A", "1", "B", "two\r\nlines", nullptr};
	ami_manager_event_fields(AMI_EVENT_FLAG_CALL, "Fields", fields);
	ASSERT_EQ(seen.size(), 4u);
	EXPECT_EQ(seen[1].category, AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_CALL);
	EXPECT_EQ(seen[1].body,
		  "Event: Bare\r\nPrivilege: " +
			  priv(AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_CALL) +
			  "\r\n\r\n");
	EXPECT_EQ(seen[2].category, AMI_EVENT_FLAG_SECURITY);
	EXPECT_EQ(seen[2].body, "Event: Open\r\nPrivilege: " +
					priv(AMI_EVENT_FLAG_SECURITY) +
					"\r\nKey: v\r\n\r\n");
	EXPECT_EQ(seen[3].name, "Fields");
	EXPECT_EQ(seen[3].body, "Event: Fields\r\nPrivilege: " +
					priv(AMI_EVENT_FLAG_CALL) +
					"\r\nA: 1\r\nB: two  lines\r\n\r\n");

	// An invalid name is refused before any hook runs.
	EXPECT_EQ(ami_manager_event(AMI_EVENT_FLAG_USER, "Bad:Name", nullptr),
		  -EINVAL);
	EXPECT_EQ(ami_manager_event(AMI_EVENT_FLAG_USER, "", nullptr), -EINVAL);
	EXPECT_EQ(seen.size(), 4u);
}

TEST_F(Hooks, EveryHookIsCalledInOrder)
{
	int one, two;
	hook(0, &one);
	hook(0, &two);
	ami_manager_event(AMI_EVENT_FLAG_USER, "Twice", nullptr);
	ASSERT_EQ(seen.size(), 2u);
	EXPECT_EQ(seen[0].data, &one);
	EXPECT_EQ(seen[1].data, &two);
	EXPECT_EQ(seen[0].body, seen[1].body);
}

TEST_F(Hooks, UnregisterStopsCalls)
{
	int one, two;
	AmiHook *h1 = ami_hook_register(nullptr, record, &one, 0);
	hook(0, &two);
	ami_manager_event(AMI_EVENT_FLAG_USER, "Before", nullptr);
	EXPECT_EQ(seen.size(), 2u);
	ami_hook_unregister(h1);
	seen.clear();
	ami_manager_event(AMI_EVENT_FLAG_USER, "After", nullptr);
	ASSERT_EQ(seen.size(), 1u);
	EXPECT_EQ(seen[0].data, &two);

	ami_hook_unregister(hooks.back());
	hooks.clear();
	seen.clear();
	ami_manager_event(AMI_EVENT_FLAG_USER, "None", nullptr);
	EXPECT_TRUE(seen.empty());
}

TEST_F(Hooks, SendActionAnswersThroughTheHook)
{
	action("UnitHookEcho", AMI_EVENT_FLAG_USER, action_echo);
	int tag;
	AmiHook *h = hook(AMI_EVENT_FLAG_USER | AMI_EVENT_FLAG_SYSTEM, &tag);

	EXPECT_EQ(ami_hook_send_action(
			  h, "Action: UnitHookEcho\r\nActionID: h1\r\nValue: 42\r\n"),
		  0);
	EXPECT_EQ(echo.calls, 1);
	ASSERT_EQ(seen.size(), 1u);
	EXPECT_EQ(seen[0].category, AMI_EVENT_FLAG_HOOKRESPONSE);
	EXPECT_EQ(seen[0].name, "HookResponse");
	EXPECT_EQ(seen[0].body,
		  "Response: Success\r\nActionID: h1\r\nValue: 42\r\n\r\n");
	EXPECT_EQ(seen[0].data, &tag);

	// The private session: logged in as "hook" with the hook's write
	// classes, no read classes.
	EXPECT_TRUE(echo.authenticated);
	EXPECT_EQ(echo.username, "hook");
	EXPECT_EQ(echo.writeperm, AMI_EVENT_FLAG_USER | AMI_EVENT_FLAG_SYSTEM);
	EXPECT_EQ(echo.readperm, 0);

	// LF line ends and a case-insensitive action name.
	seen.clear();
	EXPECT_EQ(ami_hook_send_action(h, "action: unithookecho\nValue: 7\n"), 0);
	ASSERT_EQ(seen.size(), 1u);
	EXPECT_EQ(seen[0].body, "Response: Success\r\nValue: 7\r\n\r\n");
}

TEST_F(Hooks, SendActionOnlyTheSendingHookGetsTheResponse)
{
	action("UnitHookEcho", 0, action_echo);
	int one, two;
	AmiHook *h1 = hook(0, &one);
	hook(0, &two);
	EXPECT_EQ(ami_hook_send_action(h1, "Action: UnitHookEcho\r\n"), 0);
	ASSERT_EQ(seen.size(), 1u);
	EXPECT_EQ(seen[0].data, &one);
}

TEST_F(Hooks, SendActionErrorReplyStillRuns)
{
	action("UnitHookError", 0, action_error);
	action("UnitHookSilent", 0, action_silent);
	AmiHook *h = hook(0);
	EXPECT_EQ(ami_hook_send_action(h, "Action: UnitHookError\r\nActionID: e\r\n"),
		  0);
	ASSERT_EQ(seen.size(), 1u);
	EXPECT_EQ(seen[0].body,
		  "Response: Error\r\nActionID: e\r\nMessage: no luck\r\n\r\n");
	// No reply text: no HookResponse.
	seen.clear();
	EXPECT_EQ(ami_hook_send_action(h, "Action: UnitHookSilent\r\n"), 0);
	EXPECT_TRUE(seen.empty());
}

TEST_F(Hooks, SendActionRefusals)
{
	action("UnitHookEcho", AMI_EVENT_FLAG_USER, action_echo);
	action("UnitHookConfig", AMI_EVENT_FLAG_CONFIG, action_echo);
	action("UnitHookBlocking", 0, action_echo, AMI_ACTION_BLOCKING);
	action("Login", 0, action_echo); // even when registered
	AmiHook *h = hook(AMI_EVENT_FLAG_USER);

	EXPECT_EQ(ami_hook_send_action(h, "Action: UnitNoSuchAction\r\n"),
		  -ENOENT);
	EXPECT_EQ(ami_hook_send_action(h, "Action: UnitHookConfig\r\n"), -EPERM);
	EXPECT_EQ(ami_hook_send_action(h, "Action: UnitHookBlocking\r\n"),
		  -EPERM);
	for (const char *auth : {"Login", "login", "Logoff", "Challenge"}) {
		SCOPED_TRACE(auth);
		std::string msg = std::string("Action: ") + auth +
				  "\r\nUsername: admin\r\nSecret: x\r\n";
		EXPECT_EQ(ami_hook_send_action(h, msg.c_str()), -EPERM);
	}
	EXPECT_EQ(ami_hook_send_action(nullptr, "Action: UnitHookEcho\r\n"),
		  -EINVAL);
	EXPECT_EQ(ami_hook_send_action(h, nullptr), -EINVAL);
	EXPECT_EQ(ami_hook_send_action(h, ""), -EINVAL);
	EXPECT_EQ(ami_hook_send_action(h, "ActionID: 1\r\nValue: 2\r\n"),
		  -EINVAL);
	EXPECT_EQ(echo.calls, 0);
	EXPECT_TRUE(seen.empty());

	// A hook without write classes reaches only actions open to all.
	AmiHook *none = hook(0);
	EXPECT_EQ(ami_hook_send_action(none, "Action: UnitHookEcho\r\n"), -EPERM);
	EXPECT_EQ(echo.calls, 0);
}

// ------------------------------------------------------------ sweeping

namespace {

std::string test_module_dir()
{
	const char *env = g_getenv("AMID_TEST_MODULE_DIR");
	return env && *env ? env : AMID_TEST_MODULE_DIR;
}

} // namespace

// mod_test_leaky registers a hook and leaves it; its AmiModule handle is
// taken from the datastore its TestLeaky action attaches to a session.
TEST_F(Hooks, SweepModuleRemovesItsHooks)
{
	std::string dir = test_module_dir();
	ASSERT_TRUE(g_file_test((dir + "/mod_test_leaky.so").c_str(),
				G_FILE_TEST_IS_REGULAR))
		<< "test modules not built in " << dir;
	amid_loader_set_directory(dir.c_str());
	hook(0);
	ASSERT_EQ(ami_module_load("mod_test_leaky"), 0);

	AmiSession *s = amid_session_new_detached("unit", AMI_EVENT_FLAG_ALL);
	AmiMessage *m = amid_message_parse_text("Action: TestLeaky\r\n");
	AmidAction *a = nullptr;
	ASSERT_EQ(amid_actions_acquire("TestLeaky", AMI_EVENT_FLAG_ALL, &a),
		  AMID_LOOKUP_FOUND);
	amid_action_call(a, s, m);
	amid_action_release(a);
	amid_message_free(m);
	ASSERT_NE(s->datastores, nullptr);
	AmiModule *leaky = static_cast<AmiDatastore *>(s->datastores->data)->module;
	ASSERT_NE(leaky, nullptr);
	EXPECT_STREQ(ami_module_name(leaky), "mod_test_leaky");

	// Its datastore goes first (a worker would do this at unload): the
	// destroy callback runs in the module and raises an event.
	seen.clear();
	EXPECT_EQ(amid_datastores_sweep_module(s, leaky), 1u);
	EXPECT_EQ(s->datastores, nullptr);
	ASSERT_FALSE(seen.empty());
	EXPECT_EQ(seen[0].name, "TestLeakyFreed");
	EXPECT_NE(seen[0].body.find("Calls: 1\r\n"), std::string::npos);
	amid_session_free(s);

	EXPECT_EQ(amid_hooks_sweep_module(leaky), 1u);
	EXPECT_EQ(amid_hooks_sweep_module(leaky), 0u);
	// Our core hook is not the module's: still called.
	seen.clear();
	ami_manager_event(AMI_EVENT_FLAG_USER, "AfterSweep", nullptr);
	ASSERT_EQ(seen.size(), 1u);
	EXPECT_EQ(seen[0].name, "AfterSweep");

	EXPECT_EQ(ami_module_unload("mod_test_leaky"), 0);
	EXPECT_FALSE(ami_module_is_loaded("mod_test_leaky", nullptr));
}
