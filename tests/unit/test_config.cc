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

TEST_F(Config, TlsDefaults)
{
	ASSERT_NE(load("general = { bindaddr = \"10.0.0.1\"; };\n"), nullptr) << message();
	EXPECT_FALSE(c->tlsenable);
	EXPECT_STREQ(c->tlsbindaddr, "10.0.0.1"); // bindaddr's
	EXPECT_EQ(c->tlsport, 5039);
	EXPECT_STREQ(c->tlscertfile, "/etc/amid/amid.pem");
	EXPECT_EQ(c->tlsprivatekey, nullptr); // the key is in the cert file
	EXPECT_EQ(c->tlscipher, nullptr);
}

TEST_F(Config, TlsValues)
{
	ASSERT_NE(load("general = {\n"
		       "  tlsenable = true;\n"
		       "  tlsbindaddr = \"192.0.2.1:6039\";\n"
		       "  tlscertfile = \"/x/cert.pem\";\n"
		       "  tlsprivatekey = \"/x/key.pem\";\n"
		       "  tlscipher = \"ALL\";\n"
		       "};\n"),
		  nullptr)
		<< message();
	EXPECT_TRUE(c->tlsenable);
	EXPECT_STREQ(c->tlsbindaddr, "192.0.2.1");
	EXPECT_EQ(c->tlsport, 6039);
	EXPECT_STREQ(c->tlscertfile, "/x/cert.pem");
	EXPECT_STREQ(c->tlsprivatekey, "/x/key.pem");
	EXPECT_STREQ(c->tlscipher, "ALL");
}

TEST_F(Config, TlsBindaddrForms)
{
	struct {
		const char *general;
		const char *addr;
		int port;
	} cases[] = {
		{"tlsbindaddr = \"127.0.0.2\";", "127.0.0.2", 5039},
		{"tlsbindaddr = \"[::1]:7000\";", "::1", 7000},
		{"tlsbindaddr = \"[::]\";", "::", 5039},
		{"tlsbindaddr = \"::1\";", "::1", 5039}, // bare IPv6: no port
		{"tlsbindaddr = \"localhost:0\";", "localhost", 0},
		// the plain listener's port → 5039, wherever port stands
		{"tlsbindaddr = \"127.0.0.1:6000\"; port = 6000;", "127.0.0.1", 5039},
		{"port = 6000; tlsbindaddr = \"127.0.0.1:6000\";", "127.0.0.1", 5039},
	};
	for (const auto &t : cases) {
		if (c)
			amid_config_unref(c);
		c = nullptr;
		ASSERT_NE(load(std::string("general = { ") + t.general + " };\n"), nullptr)
			<< t.general << ": " << message();
		EXPECT_STREQ(c->tlsbindaddr, t.addr) << t.general;
		EXPECT_EQ(c->tlsport, t.port) << t.general;
	}
}

TEST_F(Config, TlsBindaddrErrors)
{
	struct {
		const char *value;
		const char *why;
	} cases[] = {
		{"127.0.0.1:65536", "the port must be a number from 0 to 65535"},
		{"127.0.0.1:x", "the port must be a number from 0 to 65535"},
		{"127.0.0.1:-1", "the port must be a number from 0 to 65535"},
		{"127.0.0.1:", "the port must be a number from 0 to 65535"},
		{"[::1", "no ']' after the IPv6 address"},
		{"[::1]5039", "only ':port' may follow ']'"},
		{"", "no address"},
		{":5039", "no address"},
	};
	for (const auto &t : cases) {
		EXPECT_EQ(load(std::string("general = {\n  tlsenable = true;\n  tlsbindaddr = \"") +
			       t.value + "\";\n};\n"),
			  nullptr)
			<< t.value;
		EXPECT_EQ(message(), at(3) + "tlsbindaddr '" + t.value + "': " + t.why +
					     " (expected \"address\", \"address:port\" or "
					     "\"[IPv6 address]:port\")");
	}
	EXPECT_EQ(load("general = {\n  tlscertfile = \"\";\n};\n"), nullptr);
	EXPECT_EQ(message(), at(2) + "'tlscertfile' must name a file");
	EXPECT_EQ(load("general = {\n  tlsenable = 1;\n};\n"), nullptr);
	EXPECT_EQ(message(), at(2) + "'tlsenable' must be true or false");
}
