// The action registry: registration, lookup with permission check, listing.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "shim.h"

namespace {

int calls_a, calls_b;

int handler_a(AmiSession *, const AmiMessage *)
{
	calls_a++;
	return AMI_SUCCESS;
}

int handler_b(AmiSession *, const AmiMessage *)
{
	calls_b++;
	return AMI_DESTROY;
}

struct Info {
	std::string name;
	int authority;
	std::string synopsis, description, module;
};

// Registry access; every test leaves the registry empty again.
class Actions : public ::testing::Test {
protected:
	std::vector<std::string> registered;

	void SetUp() override
	{
		amid_actions_init();
		calls_a = calls_b = 0;
	}

	void TearDown() override
	{
		for (const std::string &n : registered)
			ami_manager_unregister(n.c_str());
		EXPECT_TRUE(list().empty()) << "a test left actions registered";
	}

	int reg(const char *name, int authority, AmiActionHandler f = handler_a,
		const char *synopsis = nullptr, const char *description = nullptr)
	{
		int r = ami_manager_register2(name, authority, f, nullptr,
					      synopsis, description);
		if (r == 0)
			registered.emplace_back(name);
		return r;
	}

	static std::vector<Info> list()
	{
		std::vector<Info> out;
		ami_manager_foreach_action(
			[](const AmiActionInfo *i, void *data) {
				static_cast<std::vector<Info> *>(data)->push_back(
					{i->name, i->authority, i->synopsis,
					 i->description, i->module});
			},
			&out);
		return out;
	}

	// Lookup result; a found action is released at once.
	static AmidLookupResult lookup(const char *name, int writeperm)
	{
		AmidAction *a = reinterpret_cast<AmidAction *>(0x1);
		AmidLookupResult r = amid_actions_acquire(name, writeperm, &a);
		if (r == AMID_LOOKUP_FOUND) {
			EXPECT_NE(a, nullptr);
			amid_action_release(a);
		} else {
			EXPECT_EQ(a, nullptr);
		}
		return r;
	}
};

} // namespace

TEST_F(Actions, LookupIsCaseInsensitive)
{
	ASSERT_EQ(reg("Ping", 0), 0);
	EXPECT_EQ(lookup("Ping", 0), AMID_LOOKUP_FOUND);
	EXPECT_EQ(lookup("ping", 0), AMID_LOOKUP_FOUND);
	EXPECT_EQ(lookup("PING", 0), AMID_LOOKUP_FOUND);
	EXPECT_EQ(lookup("pInG", 0), AMID_LOOKUP_FOUND);
	EXPECT_EQ(lookup("Pin", 0), AMID_LOOKUP_UNKNOWN);
	EXPECT_EQ(lookup("Ping ", 0), AMID_LOOKUP_UNKNOWN); // trailing blank kept
	EXPECT_EQ(lookup("", 0), AMID_LOOKUP_UNKNOWN);
}

TEST_F(Actions, LookupCallsTheRightHandler)
{
	ASSERT_EQ(reg("First", 0, handler_a), 0);
	ASSERT_EQ(reg("Second", 0, handler_b), 0);
	AmidAction *a = nullptr;
	ASSERT_EQ(amid_actions_acquire("second", 0, &a), AMID_LOOKUP_FOUND);
	EXPECT_EQ(amid_action_call(a, nullptr, nullptr), AMI_DESTROY);
	amid_action_release(a);
	ASSERT_EQ(amid_actions_acquire("FIRST", 0, &a), AMID_LOOKUP_FOUND);
	EXPECT_EQ(amid_action_call(a, nullptr, nullptr), AMI_SUCCESS);
	amid_action_release(a);
	EXPECT_EQ(calls_a, 1);
	EXPECT_EQ(calls_b, 1);
}

TEST_F(Actions, UnknownNames)
{
	EXPECT_EQ(lookup("NoSuchAction", AMI_EVENT_FLAG_ALL), AMID_LOOKUP_UNKNOWN);
	std::string huge(300, 'a');
	EXPECT_EQ(lookup(huge.c_str(), AMI_EVENT_FLAG_ALL), AMID_LOOKUP_UNKNOWN);
}

TEST_F(Actions, DuplicateNameIsEexist)
{
	ASSERT_EQ(reg("Status", AMI_EVENT_FLAG_SYSTEM, handler_a), 0);
	EXPECT_EQ(reg("Status", 0, handler_b), -EEXIST);
	EXPECT_EQ(reg("STATUS", 0, handler_b), -EEXIST); // case-insensitive
	// The first registration is untouched.
	AmidAction *a = nullptr;
	ASSERT_EQ(amid_actions_acquire("status", AMI_EVENT_FLAG_SYSTEM, &a),
		  AMID_LOOKUP_FOUND);
	EXPECT_EQ(amid_action_call(a, nullptr, nullptr), AMI_SUCCESS);
	amid_action_release(a);
	EXPECT_EQ(calls_a, 1);
	EXPECT_EQ(calls_b, 0);
	EXPECT_EQ(lookup("Status", 0), AMID_LOOKUP_DENIED);
}

TEST_F(Actions, UnregisterMakesItUnknown)
{
	ASSERT_EQ(reg("Ephemeral", 0), 0);
	EXPECT_EQ(lookup("Ephemeral", 0), AMID_LOOKUP_FOUND);
	EXPECT_EQ(ami_manager_unregister("EPHEMERAL"), 0); // case-insensitive
	EXPECT_EQ(lookup("Ephemeral", 0), AMID_LOOKUP_UNKNOWN);
	EXPECT_EQ(ami_manager_unregister("Ephemeral"), -ENOENT);
	// The name is free again.
	ASSERT_EQ(reg("Ephemeral", 0), 0);
	EXPECT_EQ(lookup("ephemeral", 0), AMID_LOOKUP_FOUND);
}

TEST_F(Actions, UnregisterUnknownIsEnoent)
{
	EXPECT_EQ(ami_manager_unregister("NeverRegistered"), -ENOENT);
	EXPECT_EQ(ami_manager_unregister(nullptr), -ENOENT);
}

TEST_F(Actions, RunningCallSurvivesUnregister)
{
	ASSERT_EQ(reg("Slow", 0, handler_a), 0);
	AmidAction *a = nullptr;
	ASSERT_EQ(amid_actions_acquire("slow", 0, &a), AMID_LOOKUP_FOUND);
	EXPECT_EQ(ami_manager_unregister("Slow"), 0);
	EXPECT_EQ(lookup("Slow", 0), AMID_LOOKUP_UNKNOWN);
	// The acquired reference keeps the action alive until released.
	EXPECT_EQ(amid_action_call(a, nullptr, nullptr), AMI_SUCCESS);
	amid_action_release(a);
	EXPECT_EQ(calls_a, 1);
}

TEST_F(Actions, AuthorityNeedsOneSharedClass)
{
	const int sys_config = AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_CONFIG;
	ASSERT_EQ(reg("GetConfig", sys_config), 0);
	EXPECT_EQ(lookup("GetConfig", AMI_EVENT_FLAG_CONFIG), AMID_LOOKUP_FOUND);
	EXPECT_EQ(lookup("GetConfig", AMI_EVENT_FLAG_SYSTEM), AMID_LOOKUP_FOUND);
	EXPECT_EQ(lookup("GetConfig", sys_config), AMID_LOOKUP_FOUND);
	EXPECT_EQ(lookup("GetConfig", AMI_EVENT_FLAG_ALL), AMID_LOOKUP_FOUND);
	EXPECT_EQ(lookup("GetConfig", AMI_EVENT_FLAG_CALL | AMI_EVENT_FLAG_USER),
		  AMID_LOOKUP_DENIED);
	EXPECT_EQ(lookup("GetConfig", 0), AMID_LOOKUP_DENIED);
}

TEST_F(Actions, DeniedReleasesNothing)
{
	ASSERT_EQ(reg("Command", AMI_EVENT_FLAG_COMMAND), 0);
	AmidAction *a = reinterpret_cast<AmidAction *>(0x1);
	EXPECT_EQ(amid_actions_acquire("command", AMI_EVENT_FLAG_CALL, &a),
		  AMID_LOOKUP_DENIED);
	EXPECT_EQ(a, nullptr);
	EXPECT_EQ(calls_a, 0);
}

TEST_F(Actions, AuthorityZeroIsAlwaysFound)
{
	ASSERT_EQ(reg("Ping", 0), 0);
	EXPECT_EQ(lookup("Ping", 0), AMID_LOOKUP_FOUND);
	EXPECT_EQ(lookup("Ping", AMI_EVENT_FLAG_CALL), AMID_LOOKUP_FOUND);
	EXPECT_EQ(lookup("Ping", AMI_EVENT_FLAG_ALL), AMID_LOOKUP_FOUND);
}

TEST_F(Actions, InvalidRegistrations)
{
	EXPECT_EQ(ami_manager_register2(nullptr, 0, handler_a, nullptr, "s", "d"),
		  -EINVAL);
	EXPECT_EQ(ami_manager_register2("", 0, handler_a, nullptr, "s", "d"),
		  -EINVAL);
	EXPECT_EQ(ami_manager_register2("NoHandler", 0, nullptr, nullptr, "s", "d"),
		  -EINVAL);
	EXPECT_EQ(lookup("NoHandler", 0), AMID_LOOKUP_UNKNOWN);
	EXPECT_TRUE(list().empty());
}

TEST_F(Actions, ForeachSortedCaseInsensitively)
{
	ASSERT_EQ(reg("zeta", AMI_EVENT_FLAG_CALL, handler_a, "Last one.",
		      "Long text."),
		  0);
	ASSERT_EQ(reg("Alpha", 0, handler_a, "First one."), 0);
	ASSERT_EQ(reg("beta", AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_CONFIG), 0);
	ASSERT_EQ(reg("ALPHA2", 0), 0);
	ASSERT_EQ(reg("Beta_", 0), 0);

	std::vector<Info> l = list();
	ASSERT_EQ(l.size(), 5u);
	std::vector<std::string> names;
	for (const Info &i : l)
		names.push_back(i.name);
	// Names as registered, ordered ignoring case.
	EXPECT_EQ(names, (std::vector<std::string>{"Alpha", "ALPHA2", "beta",
						   "Beta_", "zeta"}));

	EXPECT_EQ(l[0].synopsis, "First one.");
	EXPECT_EQ(l[0].description, ""); // NULL becomes ""
	EXPECT_EQ(l[0].authority, 0);
	EXPECT_EQ(l[0].module, "core");
	EXPECT_EQ(l[1].synopsis, "");
	EXPECT_EQ(l[2].authority, AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_CONFIG);
	EXPECT_EQ(l[4].synopsis, "Last one.");
	EXPECT_EQ(l[4].description, "Long text.");
	EXPECT_EQ(l[4].authority, AMI_EVENT_FLAG_CALL);
	for (const Info &i : l)
		EXPECT_EQ(i.module, "core") << i.name;
}

TEST_F(Actions, ForeachOnEmptyRegistry)
{
	EXPECT_TRUE(list().empty());
}
