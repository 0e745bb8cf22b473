// Loading amid.conf (libconfig syntax) into an AmidConfig.
#include <gtest/gtest.h>

#include <string>
#include <unistd.h>

#include "shim.h"

namespace {

bool starts_with(const std::string &s, const std::string &prefix)
{
	return s.compare(0, prefix.size(), prefix) == 0;
}

bool contains(const std::string &s, const std::string &part)
{
	return s.find(part) != std::string::npos;
}

// Writes a config to a temporary file and loads it.
class Config : public ::testing::Test {
protected:
	std::string path;
	AmidConfig *c = nullptr;
	GError *error = nullptr;

	void TearDown() override
	{
		if (c)
			amid_config_unref(c);
		g_clear_error(&error);
		if (!path.empty())
			unlink(path.c_str());
	}

	void write(const std::string &text)
	{
		char *name = nullptr;
		GError *e = nullptr;
		int fd = g_file_open_tmp("amid-unit-XXXXXX.conf", &name, &e);
		ASSERT_GE(fd, 0) << (e ? e->message : "");
		path = name;
		g_free(name);
		ASSERT_EQ(::write(fd, text.data(), text.size()),
			  static_cast<ssize_t>(text.size()));
		close(fd);
	}

	AmidConfig *load(const std::string &text)
	{
		write(text);
		g_clear_error(&error);
		c = amid_config_load(path.c_str(), &error);
		if (c)
			EXPECT_EQ(error, nullptr);
		else
			EXPECT_NE(error, nullptr);
		return c;
	}

	std::string message() const { return error ? error->message : ""; }
	std::string at(int line) const { return path + ":" + std::to_string(line) + ": "; }
};

} // namespace

TEST_F(Config, Defaults)
{
	ASSERT_NE(load("# nothing set\n"), nullptr);
	EXPECT_EQ(c->port, 5038);
	EXPECT_EQ(c->authtimeout_s, 30);
	EXPECT_EQ(c->authlimit, 50);
	EXPECT_STREQ(c->ami_version, "1.1");
	EXPECT_STREQ(c->bindaddr, "127.0.0.1");
	EXPECT_TRUE(c->enabled);
	EXPECT_TRUE(c->displayconnects);
	EXPECT_FALSE(c->timestampevents);
	EXPECT_STREQ(c->systemname, "");
	EXPECT_EQ(c->workers, 0);
	EXPECT_EQ(c->writetimeout_ms, 100);
	EXPECT_EQ(c->authfaildelay_ms, 1000);
	EXPECT_EQ(c->queuelimit, static_cast<gsize>(4 * 1024 * 1024));
	EXPECT_FALSE(c->autoload);
	EXPECT_EQ(c->load->len, 0u);
	EXPECT_EQ(g_hash_table_size(c->users), 0u);
	EXPECT_EQ(c->path, path);
	EXPECT_EQ(amid_config_find_user(c, "admin"), nullptr);
}

TEST_F(Config, GeneralValues)
{
	ASSERT_NE(load("general = {\n"
		       "  enabled = false;\n"
		       "  bindaddr = \"::\";\n"
		       "  port = 0;\n"
		       "  ami_version = \"9.0.0\";\n"
		       "  authtimeout = 5;\n"
		       "  authlimit = 2;\n"
		       "  timestampevents = true;\n"
		       "  displayconnects = false;\n"
		       "  systemname = \"pbx1\";\n"
		       "  workers = 3;\n"
		       "  queuelimit = 65536;\n"
		       "  writetimeout = 250;\n"
		       "  authfaildelay = 0;\n"
		       "};\n"
		       "modules = {\n"
		       "  directory = \"/opt/amid\";\n"
		       "  autoload = true;\n"
		       "  load = [ \"mod_core.so\", \"mod_x.so\" ];\n"
		       "  noload = [ \"mod_y.so\" ];\n"
		       "};\n"),
		  nullptr)
		<< message();
	EXPECT_FALSE(c->enabled);
	EXPECT_STREQ(c->bindaddr, "::");
	EXPECT_EQ(c->port, 0);
	EXPECT_STREQ(c->ami_version, "9.0.0");
	EXPECT_EQ(c->authtimeout_s, 5);
	EXPECT_EQ(c->authlimit, 2);
	EXPECT_TRUE(c->timestampevents);
	EXPECT_FALSE(c->displayconnects);
	EXPECT_STREQ(c->systemname, "pbx1");
	EXPECT_EQ(c->workers, 3);
	EXPECT_EQ(c->queuelimit, 65536u);
	EXPECT_EQ(c->writetimeout_ms, 250);
	EXPECT_EQ(c->authfaildelay_ms, 0);
	EXPECT_STREQ(c->moduledir, "/opt/amid");
	EXPECT_TRUE(c->autoload);
	ASSERT_EQ(c->load->len, 2u);
	EXPECT_STREQ(static_cast<char *>(g_ptr_array_index(c->load, 0)), "mod_core.so");
	EXPECT_STREQ(static_cast<char *>(g_ptr_array_index(c->load, 1)), "mod_x.so");
	ASSERT_EQ(c->noload->len, 1u);
	EXPECT_STREQ(static_cast<char *>(g_ptr_array_index(c->noload, 0)), "mod_y.so");
}

TEST_F(Config, UsersWithMasks)
{
	ASSERT_NE(load("general = { writetimeout = 300; displayconnects = false; };\n"
		       "users = (\n"
		       "  { username = \"Admin\"; secret = \"amp111\";\n"
		       "    read = \"system, call,Log\"; write = \"all\"; },\n"
		       "  { username = \"monitor\"; secret = \"m\"; read = \"user\";\n"
		       "    displayconnects = true; writetimeout = 1000; },\n"
		       "  { username = \"nosecret\"; }\n"
		       ");\n"),
		  nullptr)
		<< message();
	EXPECT_EQ(g_hash_table_size(c->users), 3u);

	const AmidUser *a = amid_config_find_user(c, "Admin");
	ASSERT_NE(a, nullptr);
	EXPECT_STREQ(a->username, "Admin"); // as configured
	EXPECT_STREQ(a->secret, "amp111");
	EXPECT_EQ(a->readperm,
		  AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_CALL | AMI_EVENT_FLAG_LOG);
	EXPECT_EQ(a->writeperm, AMI_EVENT_FLAG_ALL);
	EXPECT_FALSE(a->displayconnects); // general's value
	EXPECT_EQ(a->writetimeout_ms, 300); // general's value

	const AmidUser *m = amid_config_find_user(c, "monitor");
	ASSERT_NE(m, nullptr);
	EXPECT_EQ(m->readperm, AMI_EVENT_FLAG_USER);
	EXPECT_EQ(m->writeperm, 0); // write defaults to none
	EXPECT_TRUE(m->displayconnects);
	EXPECT_EQ(m->writetimeout_ms, 1000);

	const AmidUser *n = amid_config_find_user(c, "nosecret");
	ASSERT_NE(n, nullptr);
	EXPECT_EQ(n->secret, nullptr); // login impossible
	EXPECT_EQ(n->readperm, 0);
	EXPECT_EQ(n->writeperm, 0);
}

TEST_F(Config, FindUserIsCaseInsensitive)
{
	ASSERT_NE(load("users = ( { username = \"Admin\"; secret = \"s\"; } );\n"),
		  nullptr)
		<< message();
	const AmidUser *u = amid_config_find_user(c, "Admin");
	ASSERT_NE(u, nullptr);
	EXPECT_EQ(amid_config_find_user(c, "admin"), u);
	EXPECT_EQ(amid_config_find_user(c, "ADMIN"), u);
	EXPECT_EQ(amid_config_find_user(c, "aDmIn"), u);
	EXPECT_EQ(amid_config_find_user(c, "admin "), nullptr);
	EXPECT_EQ(amid_config_find_user(c, "adm"), nullptr);
	EXPECT_EQ(amid_config_find_user(c, ""), nullptr);
}

TEST_F(Config, UnknownClassNamesAreDroppedNotFatal)
{
	ASSERT_NE(load("users = ( { username = \"u\"; secret = \"s\";\n"
		       "  read = \"call,bogus\"; write = \"a,log\"; } );\n"),
		  nullptr)
		<< message();
	const AmidUser *u = amid_config_find_user(c, "u");
	ASSERT_NE(u, nullptr);
	EXPECT_EQ(u->readperm, AMI_EVENT_FLAG_CALL);
	EXPECT_EQ(u->writeperm, AMI_EVENT_FLAG_LOG); // no prefix matching
}

TEST_F(Config, SyntaxErrorNamesFileAndLine)
{
	EXPECT_EQ(load("general = {\n"
		       "  port = 5038;\n"
		       "  bindaddr = = \"127.0.0.1\";\n" // two '='
		       "  authlimit = 5;\n"
		       "};\n"),
		  nullptr);
	EXPECT_TRUE(starts_with(message(), path + ":")) << message();
	// libconfig reports the line where it noticed the error.
	EXPECT_TRUE(starts_with(message(), at(3))) << message();
	EXPECT_TRUE(g_error_matches(error, AMID_CONFIG_ERROR, 1));
}

TEST_F(Config, TypeErrorNamesTheLine)
{
	EXPECT_EQ(load("# amid\n"
		       "general = {\n"
		       "  port = \"x\";\n"
		       "};\n"),
		  nullptr);
	EXPECT_EQ(message(), at(3) + "'port' must be a whole number");
}

TEST_F(Config, BoolTypeError)
{
	EXPECT_EQ(load("general = {\n  enabled = \"yes\";\n};\n"), nullptr);
	EXPECT_EQ(message(), at(2) + "'enabled' must be true or false");
}

TEST_F(Config, StringTypeError)
{
	EXPECT_EQ(load("users = (\n  { username = \"u\";\n    secret = 42; }\n);\n"),
		  nullptr);
	EXPECT_EQ(message(), at(3) + "'secret' must be a string");
}

TEST_F(Config, PortOutOfRange)
{
	EXPECT_EQ(load("general = {\n  port = 70000;\n};\n"), nullptr);
	EXPECT_EQ(message(), at(2) + "'port' must be between 0 and 65535 (got 70000)");
	amid_config_unref(c);
	c = nullptr;
	unlink(path.c_str());
	EXPECT_EQ(load("general = {\n  port = -1;\n};\n"), nullptr);
	EXPECT_EQ(message(), at(2) + "'port' must be between 0 and 65535 (got -1)");
}

TEST_F(Config, AuthLimitsBelowOneRejected)
{
	EXPECT_EQ(load("general = {\n  authtimeout = 0;\n};\n"), nullptr);
	EXPECT_TRUE(starts_with(message(), at(2))) << message();
	EXPECT_TRUE(contains(message(), "authtimeout")) << message();
	unlink(path.c_str());
	EXPECT_EQ(load("general = {\n  authlimit = 0;\n};\n"), nullptr);
	EXPECT_TRUE(starts_with(message(), at(2))) << message();
	EXPECT_TRUE(contains(message(), "authlimit")) << message();
}

TEST_F(Config, DuplicateUserIsAnError)
{
	EXPECT_EQ(load("users = (\n"
		       "  { username = \"admin\"; secret = \"a\"; },\n"
		       "  { username = \"ADMIN\"; secret = \"b\"; }\n"
		       ");\n"),
		  nullptr);
	EXPECT_TRUE(starts_with(message(), path + ":")) << message();
	EXPECT_TRUE(contains(message(), "user 'ADMIN' defined twice")) << message();
}

TEST_F(Config, UserWithoutUsernameIsAnError)
{
	EXPECT_EQ(load("users = (\n  { secret = \"a\"; }\n);\n"), nullptr);
	EXPECT_TRUE(starts_with(message(), path + ":")) << message();
	EXPECT_TRUE(contains(message(), "user without 'username'")) << message();
}

TEST_F(Config, UsersMustBeAList)
{
	EXPECT_EQ(load("users = { username = \"a\"; };\n"), nullptr);
	EXPECT_EQ(message(), at(1) + "'users' must be a list ( … )");
}

TEST_F(Config, UnknownKeysStillLoad)
{
	ASSERT_NE(load("general = {\n"
		       "  port = 6000;\n"
		       "  no_such_option = 1;\n"
		       "};\n"
		       "modules = { whatever = true; };\n"
		       "mystery = { a = 1; };\n"
		       "http = { enabled = true; };\n"
		       "users = ( { username = \"u\"; secret = \"s\"; colour = \"red\"; } );\n"),
		  nullptr)
		<< message();
	EXPECT_EQ(c->port, 6000);
	EXPECT_NE(amid_config_find_user(c, "u"), nullptr);
}

TEST_F(Config, MissingFile)
{
	c = amid_config_load("/nonexistent/amid-unit.conf", &error);
	EXPECT_EQ(c, nullptr);
	ASSERT_NE(error, nullptr);
	EXPECT_EQ(message(), "/nonexistent/amid-unit.conf: cannot read file");
}

TEST_F(Config, RefCounting)
{
	ASSERT_NE(load("general = { port = 5040; };\n"), nullptr);
	EXPECT_EQ(amid_config_ref(c), c);
	EXPECT_EQ(c->refcount, 2);
	amid_config_unref(c);
	EXPECT_EQ(c->refcount, 1);
	EXPECT_EQ(c->port, 5040);
	amid_config_unref(nullptr); // allowed
}
