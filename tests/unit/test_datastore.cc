// Session datastores on a detached session: add, find, remove, free with
// the session, and the per-module sweep an unload runs.
#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <string>

#include "shim.h"

namespace {

// How many times each datastore's data was destroyed, by its tag.
std::map<std::string, int> destroyed;

struct Data {
	std::string tag;
};

void destroy_data(void *p)
{
	Data *d = static_cast<Data *>(p);
	destroyed[d->tag]++;
	delete d;
}

const AmiDatastoreInfo counter_info = {"unit/counter", destroy_data};
const AmiDatastoreInfo other_info = {"unit/other", destroy_data};
const AmiDatastoreInfo no_destroy_info = {"unit/plain", nullptr};

// Owners for the sweep: only their addresses are compared.
char owner_a, owner_b;
AmiModule *const module_a = reinterpret_cast<AmiModule *>(&owner_a);
AmiModule *const module_b = reinterpret_cast<AmiModule *>(&owner_b);

class Datastore : public ::testing::Test {
protected:
	AmiSession *s = nullptr;

	void SetUp() override
	{
		amid_actions_init();
		destroyed.clear();
		s = amid_session_new_detached("unit", AMI_EVENT_FLAG_ALL);
		ASSERT_NE(s, nullptr);
	}

	void TearDown() override
	{
		if (s)
			amid_session_free(s);
	}

	// A datastore holding a Data tagged @tag, attached to the session.
	AmiDatastore *attach(const AmiDatastoreInfo *info, const char *uid,
			     const char *tag, AmiModule *owner = nullptr)
	{
		AmiDatastore *ds = ami_datastore_alloc_full(info, uid, owner);
		EXPECT_NE(ds, nullptr);
		ds->data = new Data{tag};
		EXPECT_EQ(ami_session_datastore_add(s, ds), 0);
		return ds;
	}
};

} // namespace

TEST_F(Datastore, Alloc)
{
	AmiDatastore *ds = ami_datastore_alloc_full(&counter_info, "Key-1",
						    module_a);
	ASSERT_NE(ds, nullptr);
	EXPECT_EQ(ds->info, &counter_info);
	EXPECT_STREQ(ds->uid, "Key-1");
	EXPECT_EQ(ds->data, nullptr);
	EXPECT_EQ(ds->module, module_a);
	ami_datastore_free(ds); // no data: destroy not called
	EXPECT_TRUE(destroyed.empty());

	ds = ami_datastore_alloc_full(&counter_info, nullptr, nullptr);
	ASSERT_NE(ds, nullptr);
	EXPECT_EQ(ds->uid, nullptr);
	ds->data = new Data{"freed"};
	ami_datastore_free(ds);
	EXPECT_EQ(destroyed["freed"], 1);

	EXPECT_EQ(ami_datastore_alloc_full(nullptr, "x", nullptr), nullptr);
	ami_datastore_free(nullptr);
}

TEST_F(Datastore, AddAndFindByType)
{
	EXPECT_EQ(ami_session_datastore_find(s, &counter_info, nullptr), nullptr);
	AmiDatastore *c = attach(&counter_info, nullptr, "c");
	AmiDatastore *o = attach(&other_info, "uid", "o");
	EXPECT_EQ(ami_session_datastore_find(s, &counter_info, nullptr), c);
	EXPECT_EQ(ami_session_datastore_find(s, &other_info, nullptr), o);
	EXPECT_EQ(ami_session_datastore_find(s, &no_destroy_info, nullptr),
		  nullptr);
	// The same type twice: the newest is found.
	AmiDatastore *c2 = attach(&counter_info, nullptr, "c2");
	EXPECT_EQ(ami_session_datastore_find(s, &counter_info, nullptr), c2);
	// Types are told apart by their info, not their name.
	const AmiDatastoreInfo same_name = {"unit/counter", destroy_data};
	EXPECT_EQ(ami_session_datastore_find(s, &same_name, nullptr), nullptr);
}

TEST_F(Datastore, FindByTypeAndUid)
{
	AmiDatastore *none = attach(&counter_info, nullptr, "none");
	AmiDatastore *alice = attach(&counter_info, "Alice", "alice");
	AmiDatastore *bob = attach(&counter_info, "bob", "bob");
	AmiDatastore *other = attach(&other_info, "alice", "other");
	EXPECT_EQ(ami_session_datastore_find(s, &counter_info, "Alice"), alice);
	EXPECT_EQ(ami_session_datastore_find(s, &counter_info, "ALICE"), alice);
	EXPECT_EQ(ami_session_datastore_find(s, &counter_info, "alice"), alice);
	EXPECT_EQ(ami_session_datastore_find(s, &counter_info, "BoB"), bob);
	EXPECT_EQ(ami_session_datastore_find(s, &other_info, "Alice"), other);
	EXPECT_EQ(ami_session_datastore_find(s, &counter_info, "carol"),
		  nullptr);
	EXPECT_EQ(ami_session_datastore_find(s, &counter_info, "alic"), nullptr);
	EXPECT_EQ(ami_session_datastore_find(s, &counter_info, ""), nullptr);
	// NULL uid: any of that type, newest first.
	EXPECT_EQ(ami_session_datastore_find(s, &counter_info, nullptr), bob);
	(void)none;
}

TEST_F(Datastore, RemoveReturnsOwnership)
{
	AmiDatastore *a = attach(&counter_info, "a", "a");
	AmiDatastore *b = attach(&counter_info, "b", "b");
	EXPECT_EQ(ami_session_datastore_remove(s, a), 0);
	EXPECT_TRUE(destroyed.empty()) << "remove must not free";
	EXPECT_EQ(ami_session_datastore_find(s, &counter_info, "a"), nullptr);
	EXPECT_EQ(ami_session_datastore_find(s, &counter_info, nullptr), b);
	EXPECT_EQ(ami_session_datastore_remove(s, a), -ENOENT);

	// Still valid, and ours: it can be moved to another session.
	EXPECT_EQ(static_cast<Data *>(a->data)->tag, "a");
	AmiSession *s2 = amid_session_new_detached("unit2", 0);
	EXPECT_EQ(ami_session_datastore_add(s2, a), 0);
	EXPECT_EQ(ami_session_datastore_find(s2, &counter_info, "A"), a);
	EXPECT_EQ(ami_session_datastore_remove(s, a), -ENOENT);
	amid_session_free(s2);
	EXPECT_EQ(destroyed["a"], 1);
	EXPECT_EQ(destroyed.count("b"), 0u);

	EXPECT_EQ(ami_session_datastore_remove(s, nullptr), -ENOENT);
	EXPECT_EQ(ami_session_datastore_remove(nullptr, b), -ENOENT);
	EXPECT_EQ(ami_session_datastore_add(nullptr, b), -EINVAL);
	EXPECT_EQ(ami_session_datastore_add(s, nullptr), -EINVAL);
	EXPECT_EQ(ami_session_datastore_find(nullptr, &counter_info, nullptr),
		  nullptr);

	// Removed and freed by hand: destroyed once, never again by the session.
	EXPECT_EQ(ami_session_datastore_remove(s, b), 0);
	ami_datastore_free(b);
	EXPECT_EQ(destroyed["b"], 1);
	amid_session_free(s);
	s = nullptr;
	EXPECT_EQ(destroyed["b"], 1);
}

TEST_F(Datastore, DestroyedOnceWhenTheSessionIsFreed)
{
	attach(&counter_info, nullptr, "one");
	attach(&other_info, "x", "two");
	attach(&counter_info, "y", "three");
	AmiDatastore *plain = ami_datastore_alloc_full(&no_destroy_info,
						       nullptr, nullptr);
	ASSERT_EQ(ami_session_datastore_add(s, plain), 0); // data NULL
	EXPECT_TRUE(destroyed.empty());
	amid_session_free(s);
	s = nullptr;
	EXPECT_EQ(destroyed.size(), 3u);
	EXPECT_EQ(destroyed["one"], 1);
	EXPECT_EQ(destroyed["two"], 1);
	EXPECT_EQ(destroyed["three"], 1);
}

TEST_F(Datastore, SweepFreesOnlyThatModulesDatastores)
{
	attach(&counter_info, "a1", "a1", module_a);
	AmiDatastore *b1 = attach(&counter_info, "b1", "b1", module_b);
	attach(&other_info, "a2", "a2", module_a);
	AmiDatastore *core = attach(&other_info, "core", "core", nullptr);

	EXPECT_EQ(amid_datastores_sweep_module(s, module_a), 2u);
	EXPECT_EQ(destroyed.size(), 2u);
	EXPECT_EQ(destroyed["a1"], 1);
	EXPECT_EQ(destroyed["a2"], 1);
	EXPECT_EQ(ami_session_datastore_find(s, &counter_info, "a1"), nullptr);
	EXPECT_EQ(ami_session_datastore_find(s, &other_info, "a2"), nullptr);
	EXPECT_EQ(ami_session_datastore_find(s, &counter_info, "b1"), b1);
	EXPECT_EQ(ami_session_datastore_find(s, &other_info, "core"), core);

	EXPECT_EQ(amid_datastores_sweep_module(s, module_a), 0u); // idempotent
	EXPECT_EQ(destroyed.size(), 2u);

	// The rest goes with the session, each once.
	amid_session_free(s);
	s = nullptr;
	EXPECT_EQ(destroyed.size(), 4u);
	for (const auto &kv : destroyed)
		EXPECT_EQ(kv.second, 1) << kv.first;
}

TEST_F(Datastore, SweepOfEmptySession)
{
	EXPECT_EQ(amid_datastores_sweep_module(s, module_a), 0u);
	EXPECT_EQ(amid_datastores_sweep_module(s, nullptr), 0u);
}
