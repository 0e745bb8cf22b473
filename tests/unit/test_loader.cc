// The module loader, driven through the real dlopen() path with the test
// modules of tests/modules (deliberately broken or misbehaving .so files).
// The unit binary exports the ami_* API (--export-dynamic, whole core
// archive) so that those modules resolve it.  No I/O worker runs: the
// deferred part of an unload (worker datastore sweeps) is then a no-op and
// the module is dlclose()d by the unload itself, which the tests check.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include <dlfcn.h>

#include "shim.h"

#ifndef AMID_TEST_MODULE_DIR
#define AMID_TEST_MODULE_DIR "tests/modules/.libs"
#endif

namespace {

// Where the test modules are: $AMID_TEST_MODULE_DIR, else the build tree's.
std::string test_module_dir()
{
	const char *env = g_getenv("AMID_TEST_MODULE_DIR");
	return env && *env ? env : AMID_TEST_MODULE_DIR;
}

std::string module_path(const std::string &name)
{
	return test_module_dir() + "/" + name + ".so";
}

// Is the module's file mapped in this process (dlopen()ed and not yet
// dlclose()d)?  RTLD_NOLOAD never maps it; a hit is released again.
bool is_mapped(const std::string &name)
{
	void *h = dlopen(module_path(name).c_str(), RTLD_NOW | RTLD_NOLOAD);
	if (!h)
		return false;
	dlclose(h);
	return true;
}

bool contains(const std::string &s, const std::string &part)
{
	return s.find(part) != std::string::npos;
}

struct ActionRow {
	std::string name, module;
};

std::vector<ActionRow> list_actions()
{
	std::vector<ActionRow> out;
	ami_manager_foreach_action(
		[](const AmiActionInfo *i, void *data) {
			static_cast<std::vector<ActionRow> *>(data)->push_back(
				{i->name, i->module});
		},
		&out);
	return out;
}

// The module that registered @action, "" when it is not registered.
std::string action_owner(const std::string &action)
{
	for (const ActionRow &r : list_actions())
		if (g_ascii_strcasecmp(r.name.c_str(), action.c_str()) == 0)
			return r.module;
	return "";
}

// Run @request in a detached session with every write class; its reply.
std::string run_action(const std::string &request)
{
	AmiMessage *m = amid_message_parse_text(request.c_str());
	AmidAction *a = nullptr;
	std::string out = "(unknown action)";
	if (amid_actions_acquire(amid_message_action(m), AMI_EVENT_FLAG_ALL,
				 &a) == AMID_LOOKUP_FOUND) {
		AmiSession *s = amid_session_new_detached("unit",
							  AMI_EVENT_FLAG_ALL);
		amid_action_call(a, s, m);
		amid_action_release(a);
		out = amid_session_detached_output(s);
		amid_session_free(s);
	}
	amid_message_free(m);
	return out;
}

// A start-up configuration built by hand: only the module lists matter.
struct StartupConfig {
	AmidConfig c{};

	StartupConfig()
	{
		c.refcount = 1;
		c.load = g_ptr_array_new_with_free_func(g_free);
		c.noload = g_ptr_array_new_with_free_func(g_free);
		c.preload = g_ptr_array_new_with_free_func(g_free);
		c.require = g_ptr_array_new_with_free_func(g_free);
	}
	~StartupConfig()
	{
		g_ptr_array_unref(c.load);
		g_ptr_array_unref(c.noload);
		g_ptr_array_unref(c.preload);
		g_ptr_array_unref(c.require);
	}
	StartupConfig(const StartupConfig &) = delete;
	StartupConfig &operator=(const StartupConfig &) = delete;

	static void add(GPtrArray *list, std::initializer_list<const char *> names)
	{
		for (const char *n : names)
			g_ptr_array_add(list, g_strdup(n));
	}
};

// A timer callback that is never meant to fire.
gboolean never(void *)
{
	return G_SOURCE_REMOVE;
}

// The id the next ami_timer_add() will return (ids are sequential).
guint next_timer_id()
{
	guint id = ami_timer_add(nullptr, 3600 * 1000, never, nullptr);
	EXPECT_NE(id, 0u);
	EXPECT_EQ(ami_timer_remove(id), 0);
	return id + 1;
}

// Events seen by a core hook (no module), for the leaky module's tick.
struct SeenEvent {
	int category;
	std::string name, body;
};

int record_event(int category, const char *event, const char *body,
		 void *data)
{
	static_cast<std::vector<SeenEvent> *>(data)->push_back(
		{category, event, body});
	return 0;
}

// Iterate the default main context (where module timers run) until
// @done or @ms have passed.
template <typename Pred> bool pump_until(Pred done, guint ms)
{
	bool expired = false;
	guint guard = g_timeout_add(
		ms,
		[](gpointer p) -> gboolean {
			*static_cast<bool *>(p) = true;
			return G_SOURCE_REMOVE;
		},
		&expired);
	while (!done() && !expired)
		g_main_context_iteration(nullptr, TRUE);
	if (!expired)
		g_source_remove(guard);
	return done();
}

// Loader state is process-wide: every test unloads what it loaded (the
// fixture unloads everything) and leaves the action registry empty.
class Loader : public ::testing::Test {
protected:
	std::vector<std::string> log; // core ("amid" domain) log lines
	guint log_handler = 0;

	static void capture(const gchar *, GLogLevelFlags, const gchar *msg,
			    gpointer data)
	{
		static_cast<std::vector<std::string> *>(data)->push_back(msg);
	}

	void SetUp() override
	{
		amid_actions_init();
		amid_loader_set_directory(test_module_dir().c_str());
		log_handler = g_log_set_handler(
			"amid",
			(GLogLevelFlags)(G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL |
					 G_LOG_FLAG_RECURSION),
			capture, &log);
		ASSERT_TRUE(g_file_test(module_path("mod_test_dep_a").c_str(),
					G_FILE_TEST_IS_REGULAR))
			<< "test modules not built in " << test_module_dir()
			<< " (make test-modules, or set AMID_TEST_MODULE_DIR)";
	}

	void TearDown() override
	{
		amid_loader_unload_all();
		g_log_remove_handler("amid", log_handler);
		EXPECT_TRUE(list_actions().empty())
			<< "a test left actions registered";
		if (HasFailure())
			for (const std::string &l : log)
				fprintf(stderr, "  log: %s\n", l.c_str());
	}

	bool logged(const std::string &part) const
	{
		for (const std::string &l : log)
			if (contains(l, part))
				return true;
		return false;
	}

	// Index of the first log line containing @part, -1 if none.
	int log_index(const std::string &part) const
	{
		for (size_t i = 0; i < log.size(); i++)
			if (contains(log[i], part))
				return static_cast<int>(i);
		return -1;
	}

	// A refused module: the error, not loaded, not left mapped.
	void expect_refused(const char *name, int err, const char *why)
	{
		SCOPED_TRACE(name);
		log.clear();
		EXPECT_EQ(ami_module_load(name), err);
		EXPECT_FALSE(ami_module_is_loaded(name, nullptr));
		EXPECT_FALSE(is_mapped(name));
		if (why) {
			EXPECT_TRUE(logged(why)) << "no log line with: " << why;
		}
	}
};

} // namespace

// ------------------------------------------------------------ refusals

TEST_F(Loader, AbiMajorMismatch)
{
	expect_refused("mod_test_abi", -ENOEXEC, "built for SDK ABI 2.0");
}

TEST_F(Loader, AbiMinorNewer)
{
	expect_refused("mod_test_abi_minor", -ENOEXEC, "built for SDK ABI 1.1");
}

TEST_F(Loader, SignatureMismatch)
{
	expect_refused("mod_test_sig", -ENOEXEC,
		       "build signature 'ptr2-long2-glib1-test'");
}

TEST_F(Loader, NoDescriptor)
{
	expect_refused("mod_test_nosym", -ENOEXEC, "not an amid module");
}

TEST_F(Loader, NameOutsideDirectory)
{
	for (const char *name :
	     {"../mod_test_dep_a", "../.libs/mod_test_dep_a.so",
	      "sub/mod_test_dep_a", "/tmp/mod_test_dep_a.so", "..",
	      "mod..test", "./mod_test_dep_a", ""}) {
		SCOPED_TRACE(name);
		EXPECT_EQ(ami_module_load(name), -EPERM);
	}
	EXPECT_EQ(ami_module_load(nullptr), -EPERM);
	EXPECT_FALSE(ami_module_is_loaded("mod_test_dep_a", nullptr));
	EXPECT_FALSE(is_mapped("mod_test_dep_a"));
}

TEST_F(Loader, MissingFile)
{
	expect_refused("mod_test_nonexistent", -ENOENT, "no such file");
	expect_refused("mod_test_nonexistent.so", -ENOENT, "no such file");
}

TEST_F(Loader, AlreadyLoaded)
{
	ASSERT_EQ(ami_module_load("mod_test_dep_a"), 0);
	EXPECT_EQ(ami_module_load("mod_test_dep_a"), -EEXIST);
	EXPECT_EQ(ami_module_load("mod_test_dep_a.so"), -EEXIST);
	EXPECT_EQ(ami_module_load("MOD_TEST_DEP_A.SO"), -EEXIST);
	EXPECT_TRUE(ami_module_is_loaded("mod_test_dep_a", nullptr));
	EXPECT_EQ(action_owner("TestDepA"), "mod_test_dep_a");
	EXPECT_EQ(ami_module_unload("mod_test_dep_a"), 0);
	EXPECT_FALSE(is_mapped("mod_test_dep_a"));
}

// ------------------------------------------------------------ requires

TEST_F(Loader, DependencyNotLoaded)
{
	expect_refused("mod_test_dep_b", -ECANCELED,
		       "requires mod_test_dep_a, which is not loaded");
	EXPECT_EQ(action_owner("TestDepB"), "");
}

TEST_F(Loader, DependencyLoadedFirst)
{
	ASSERT_EQ(ami_module_load("mod_test_dep_a"), 0);
	ASSERT_EQ(ami_module_load("mod_test_dep_b"), 0);
	EXPECT_EQ(action_owner("TestDepA"), "mod_test_dep_a");
	EXPECT_EQ(action_owner("TestDepB"), "mod_test_dep_b");
	EXPECT_TRUE(contains(run_action("Action: TestDepB\r\n"), "dep_b here"));
}

TEST_F(Loader, UnloadRefusedWhileRequired)
{
	ASSERT_EQ(ami_module_load("mod_test_dep_a"), 0);
	ASSERT_EQ(ami_module_load("mod_test_dep_b"), 0);
	log.clear();
	EXPECT_EQ(ami_module_unload("mod_test_dep_a"), -EBUSY);
	EXPECT_TRUE(logged("mod_test_dep_b requires it"));
	EXPECT_TRUE(ami_module_is_loaded("mod_test_dep_a", nullptr));
	EXPECT_EQ(action_owner("TestDepA"), "mod_test_dep_a");
	// Still usable after the refusal (not left "stopping").
	EXPECT_TRUE(contains(run_action("Action: TestDepA\r\n"), "Reloads: 0"));

	EXPECT_EQ(ami_module_unload("mod_test_dep_b"), 0);
	EXPECT_FALSE(is_mapped("mod_test_dep_b"));
	EXPECT_EQ(ami_module_unload("mod_test_dep_a"), 0);
	EXPECT_FALSE(is_mapped("mod_test_dep_a"));
	// Both unregistered their actions themselves: nothing was swept.
	EXPECT_FALSE(logged("left action"));
}

TEST_F(Loader, UnloadUnknown)
{
	EXPECT_EQ(ami_module_unload("mod_test_dep_a"), -ENOENT);
	EXPECT_EQ(ami_module_unload("mod_test_nonexistent"), -ENOENT);
	EXPECT_EQ(ami_module_unload("../mod_test_dep_a"), -ENOENT);
	EXPECT_EQ(ami_module_unload(nullptr), -ENOENT);
}

// ------------------------------------------------------------ start-up

TEST_F(Loader, StartupOrdersByRequires)
{
	StartupConfig sc;
	StartupConfig::add(sc.c.load, {"mod_test_dep_b", "mod_test_dep_a.so"});
	GError *error = nullptr;
	EXPECT_TRUE(amid_loader_load_startup(&sc.c, &error));
	EXPECT_EQ(error, nullptr);
	g_clear_error(&error);
	EXPECT_TRUE(ami_module_is_loaded("mod_test_dep_a", nullptr));
	EXPECT_TRUE(ami_module_is_loaded("mod_test_dep_b", nullptr));
	int a = log_index("Loaded module mod_test_dep_a");
	int b = log_index("Loaded module mod_test_dep_b");
	EXPECT_GE(a, 0);
	EXPECT_GT(b, a) << "mod_test_dep_b started before what it requires";
	EXPECT_TRUE(logged("2 modules loaded in"));
}

TEST_F(Loader, StartupSkipsCycleAndMissingRequirement)
{
	StartupConfig sc;
	StartupConfig::add(sc.c.load,
			   {"mod_test_cycle_x", "mod_test_needs_missing",
			    "mod_test_cycle_y", "mod_test_dep_a", "mod_test_abi",
			    "mod_test_nonexistent"});
	GError *error = nullptr;
	EXPECT_TRUE(amid_loader_load_startup(&sc.c, &error));
	EXPECT_EQ(error, nullptr);
	g_clear_error(&error);
	for (const char *name : {"mod_test_cycle_x", "mod_test_cycle_y",
				 "mod_test_needs_missing", "mod_test_abi"}) {
		SCOPED_TRACE(name);
		EXPECT_FALSE(ami_module_is_loaded(name, nullptr));
		EXPECT_FALSE(is_mapped(name));
	}
	EXPECT_TRUE(ami_module_is_loaded("mod_test_dep_a", nullptr));
	EXPECT_TRUE(logged("dependency cycle"));
	EXPECT_TRUE(logged("requires mod_test_nonexistent"));
	EXPECT_TRUE(logged("1 modules loaded in"));
}

TEST_F(Loader, StartupNoload)
{
	StartupConfig sc;
	StartupConfig::add(sc.c.load, {"mod_test_dep_a", "mod_test_dep_b"});
	StartupConfig::add(sc.c.noload, {"mod_test_dep_a.so"});
	EXPECT_TRUE(amid_loader_load_startup(&sc.c, nullptr));
	EXPECT_FALSE(ami_module_is_loaded("mod_test_dep_a", nullptr));
	// Its requirement is neither loaded nor in the set: skipped.
	EXPECT_FALSE(ami_module_is_loaded("mod_test_dep_b", nullptr));
	EXPECT_FALSE(is_mapped("mod_test_dep_b"));
}

TEST_F(Loader, StartupPreloadComesFirst)
{
	StartupConfig sc;
	StartupConfig::add(sc.c.preload, {"mod_test_dep_a"});
	StartupConfig::add(sc.c.load, {"mod_test_dep_b", "mod_test_dep_a"});
	EXPECT_TRUE(amid_loader_load_startup(&sc.c, nullptr));
	EXPECT_TRUE(ami_module_is_loaded("mod_test_dep_a", nullptr));
	EXPECT_TRUE(ami_module_is_loaded("mod_test_dep_b", nullptr));
	EXPECT_FALSE(logged("preload mod_test_dep_a failed"));
}

TEST_F(Loader, StartupRequireFails)
{
	StartupConfig sc;
	StartupConfig::add(sc.c.load,
			   {"mod_test_needs_missing", "mod_test_dep_a"});
	StartupConfig::add(sc.c.require,
			   {"mod_test_dep_a", "mod_test_needs_missing"});
	GError *error = nullptr;
	EXPECT_FALSE(amid_loader_load_startup(&sc.c, &error));
	ASSERT_NE(error, nullptr);
	EXPECT_TRUE(contains(error->message, "mod_test_needs_missing"))
		<< error->message;
	EXPECT_FALSE(contains(error->message, "mod_test_dep_a"))
		<< error->message;
	g_clear_error(&error);
	// The others are loaded all the same (the caller decides to exit).
	EXPECT_TRUE(ami_module_is_loaded("mod_test_dep_a", nullptr));
}

TEST_F(Loader, StartupRequireMet)
{
	StartupConfig sc;
	StartupConfig::add(sc.c.load, {"mod_test_dep_a"});
	StartupConfig::add(sc.c.require, {"mod_test_dep_a.so"});
	GError *error = nullptr;
	EXPECT_TRUE(amid_loader_load_startup(&sc.c, &error));
	EXPECT_EQ(error, nullptr);
	g_clear_error(&error);
}

// ------------------------------------------------------------ leftovers

TEST_F(Loader, FailedLoadLeavesNothing)
{
	guint timer = next_timer_id();
	EXPECT_EQ(ami_module_load("mod_test_fail"), -ECANCELED);
	EXPECT_FALSE(ami_module_is_loaded("mod_test_fail", nullptr));
	EXPECT_EQ(action_owner("TestFail"), "");
	EXPECT_EQ(run_action("Action: TestFail\r\n"), "(unknown action)");
	// load() registered exactly one timer (the probe after it gets the
	// id after that one), and it is gone.
	EXPECT_EQ(next_timer_id(), timer + 2);
	EXPECT_EQ(ami_timer_remove(timer), -ENOENT);
	// The sweep found all three registrations.
	EXPECT_TRUE(logged("mod_test_fail left action 'TestFail'"));
	EXPECT_TRUE(logged("mod_test_fail left a hook"));
	EXPECT_TRUE(logged("mod_test_fail left a timer"));
	EXPECT_FALSE(is_mapped("mod_test_fail"));
}

TEST_F(Loader, UnloadSweepsLeftovers)
{
	std::vector<SeenEvent> seen;
	AmiHook *hook = ami_hook_register(nullptr, record_event, &seen, 0);
	ASSERT_NE(hook, nullptr);
	guint timer = next_timer_id();

	ASSERT_EQ(ami_module_load("mod_test_leaky"), 0);
	EXPECT_EQ(action_owner("TestLeaky"), "mod_test_leaky");
	// Its hook counts events and its 100 ms timer reports the count.
	ami_manager_event(AMI_EVENT_FLAG_USER, "UnitOne", nullptr);
	ami_manager_event(AMI_EVENT_FLAG_USER, "UnitTwo", nullptr);
	auto ticked = [&seen] {
		for (const SeenEvent &e : seen)
			if (e.name == "TestLeakyTick")
				return true;
		return false;
	};
	ASSERT_TRUE(pump_until(ticked, 5000)) << "the module's timer never ran";
	for (const SeenEvent &e : seen)
		if (e.name == "TestLeakyTick") {
			EXPECT_TRUE(contains(e.body, "Seen: 2\r\n")) << e.body;
			break;
		}

	log.clear();
	EXPECT_EQ(ami_module_unload("mod_test_leaky"), 0);
	EXPECT_TRUE(logged("mod_test_leaky left action 'TestLeaky'"));
	EXPECT_TRUE(logged("mod_test_leaky left a hook"));
	EXPECT_TRUE(logged("mod_test_leaky left a timer"));
	EXPECT_EQ(action_owner("TestLeaky"), "");
	EXPECT_EQ(next_timer_id(), timer + 2); // the module made one timer…
	EXPECT_EQ(ami_timer_remove(timer), -ENOENT); // …and it is gone
	// No worker holds it: the unload itself dlclose()d it.
	EXPECT_FALSE(is_mapped("mod_test_leaky"));

	// Nothing of it runs any more: an event reaches only our hook (a left
	// hook would call into unmapped code), and no tick comes.
	seen.clear();
	ami_manager_event(AMI_EVENT_FLAG_USER, "UnitThree", nullptr);
	pump_until([] { return false; }, 300);
	ASSERT_EQ(seen.size(), 1u);
	EXPECT_EQ(seen[0].name, "UnitThree");
	ami_hook_unregister(hook);
}

TEST_F(Loader, LoadAgainAfterUnload)
{
	for (int i = 0; i < 3; i++) {
		SCOPED_TRACE(i);
		ASSERT_EQ(ami_module_load("mod_test_leaky"), 0);
		EXPECT_TRUE(is_mapped("mod_test_leaky"));
		ASSERT_EQ(ami_module_unload("mod_test_leaky"), 0);
		EXPECT_FALSE(is_mapped("mod_test_leaky"));
	}
	EXPECT_EQ(action_owner("TestLeaky"), "");
}

// ------------------------------------------------------------ queries

TEST_F(Loader, IsLoadedAndVersion)
{
	char *version = nullptr;
	EXPECT_FALSE(ami_module_is_loaded("mod_test_dep_a", &version));
	EXPECT_EQ(version, nullptr);
	ASSERT_EQ(ami_module_load("mod_test_dep_a.so"), 0);

	for (const char *name : {"mod_test_dep_a", "mod_test_dep_a.so",
				 "MOD_TEST_DEP_A.SO", "Mod_Test_Dep_A"}) {
		SCOPED_TRACE(name);
		EXPECT_TRUE(ami_module_is_loaded(name, nullptr));
		version = nullptr;
		EXPECT_TRUE(ami_module_is_loaded(name, &version));
		EXPECT_STREQ(version, "a-1");
		g_free(version);
	}
	version = nullptr;
	EXPECT_FALSE(ami_module_is_loaded("mod_test_dep_b", &version));
	EXPECT_EQ(version, nullptr);
	EXPECT_FALSE(ami_module_is_loaded("../mod_test_dep_a", nullptr));
	EXPECT_FALSE(ami_module_is_loaded(nullptr, nullptr));

	// A module without a version string answers "".
	ASSERT_EQ(ami_module_load("mod_test_hook"), 0);
	EXPECT_TRUE(ami_module_is_loaded("mod_test_hook", &version));
	EXPECT_STREQ(version, "");
	g_free(version);

	EXPECT_EQ(ami_module_unload("mod_test_dep_a"), 0);
	EXPECT_FALSE(ami_module_is_loaded("mod_test_dep_a", nullptr));
}

TEST_F(Loader, Reload)
{
	ASSERT_EQ(ami_module_load("mod_test_dep_a"), 0);
	ASSERT_EQ(ami_module_load("mod_test_dep_b"), 0);
	EXPECT_EQ(ami_module_reload("mod_test_dep_b"), -ENOTSUP);
	EXPECT_EQ(ami_module_reload("mod_test_nonexistent"), -ENOENT);
	EXPECT_EQ(ami_module_reload("../mod_test_dep_a"), -ENOENT);
	EXPECT_EQ(ami_module_reload("mod_test_dep_a.so"), 0);
	EXPECT_TRUE(contains(run_action("Action: TestDepA\r\n"), "Reloads: 1"));
	// Every module: those without a reload callback are skipped.
	EXPECT_EQ(ami_module_reload(nullptr), 0);
	EXPECT_EQ(ami_module_reload(""), 0);
	EXPECT_TRUE(contains(run_action("Action: TestDepA\r\n"), "Reloads: 3"));
}
