// The operator CLI (core/cli.c) without a daemon: word splitting, command
// lookup, usage and error paths, ami_cli_command()'s contract, and the
// controlsocket option.
#include <gtest/gtest.h>

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>
#include <string>
#include <vector>

#include "shim.h"

extern "C" {
#include <amid/cli.h>

#include "cli.h"
#include "core.h"
}

namespace {

std::vector<std::string> split(const char *line)
{
	int argc = -1;
	char **argv = amid_cli_split(line, &argc);
	std::vector<std::string> out;
	for (int i = 0; i < argc; i++)
		out.emplace_back(argv[i]);
	EXPECT_EQ(argv[argc], nullptr);
	g_strfreev(argv);
	return out;
}

// Runs @line; returns the code and fills @text.
int run(const char *line, std::string &text)
{
	char *out = nullptr;
	int r = ami_cli_command(line, &out);
	EXPECT_NE(out, nullptr);
	text = take_str(out);
	return r;
}

} // namespace

TEST(CliSplit, BlanksQuotesAndEscapes)
{
	EXPECT_EQ(split(""), std::vector<std::string>{});
	EXPECT_EQ(split(" \t \r\n"), std::vector<std::string>{});
	EXPECT_EQ(split("core  show\tversion "),
		  (std::vector<std::string>{"core", "show", "version"}));
	EXPECT_EQ(split("a \"b c\" d"),
		  (std::vector<std::string>{"a", "b c", "d"}));
	EXPECT_EQ(split("x\"y z\"w"), (std::vector<std::string>{"xy zw"}));
	EXPECT_EQ(split("a\\ b \\\"c"),
		  (std::vector<std::string>{"a b", "\"c"}));
	EXPECT_EQ(split("\"\""), (std::vector<std::string>{""}));
	EXPECT_EQ(split("\"unterminated quote"),
		  (std::vector<std::string>{"unterminated quote"}));
}

TEST(Cli, EmptyLineIsInvalid)
{
	std::string text;
	EXPECT_EQ(run("", text), -EINVAL);
	EXPECT_EQ(text, "");
	EXPECT_EQ(run("   ", text), -EINVAL);
	EXPECT_EQ(ami_cli_command(nullptr, nullptr), -EINVAL);
}

TEST(Cli, UnknownCommand)
{
	std::string text;
	EXPECT_EQ(run("frob", text), -ENOENT);
	EXPECT_EQ(text, "No such command 'frob' (type 'help' for other "
			"possible commands)\n");
	EXPECT_EQ(run("module frob", text), -ENOENT);
	EXPECT_EQ(text, "No such command 'module frob' (type 'help module' "
			"for other possible commands)\n");
	// No abbreviations.
	EXPECT_EQ(run("core show ver", text), -ENOENT);
}

TEST(Cli, HelpListsAndExplains)
{
	std::string text;
	ASSERT_EQ(run("help", text), 0);
	EXPECT_NE(text.find("core show version              -- Display version "
			    "info\n"),
		  std::string::npos);
	EXPECT_NE(text.find("manager show connected"), std::string::npos);
	std::string again;
	ASSERT_EQ(run("CORE SHOW HELP", again), 0);
	EXPECT_EQ(again, text);
	ASSERT_EQ(run("help module show", text), 0);
	EXPECT_EQ(text, "Usage: module show [like keyword]\n"
			"       Shows amid modules currently in use, and usage "
			"statistics.\n");
	EXPECT_EQ(run("help zzz", text), -ECANCELED);
	EXPECT_EQ(text, "No such command 'zzz'.\n");
}

TEST(Cli, BadArgumentsGiveUsage)
{
	std::string text;
	EXPECT_EQ(run("core show version now", text), -EINVAL);
	EXPECT_EQ(text, "Usage: core show version\n"
			"       Shows amid's version, its AMI and SDK ABI "
			"versions and the\n"
			"       system it runs on.\n");
	EXPECT_EQ(run("module load", text), -EINVAL);
	EXPECT_EQ(text.rfind("Usage: module load <module name>\n", 0), 0u);
}

TEST(Cli, VersionAndUptime)
{
	std::string text;
	ASSERT_EQ(run("core show version", text), 0);
	EXPECT_EQ(text.rfind(std::string("amid ") + PACKAGE_VERSION + " (AMI ", 0),
		  0u)
		<< text;
	ASSERT_EQ(run("core show uptime seconds", text), 0);
	EXPECT_EQ(text.rfind("System uptime: ", 0), 0u) << text;
	EXPECT_NE(text.find("\nLast reload: "), std::string::npos) << text;
}

TEST(Cli, StopWithoutMainLoopFails)
{
	std::string text;
	amid_core_set_main_loop(nullptr);
	EXPECT_EQ(run("core stop gracefully", text), -ECANCELED);
	EXPECT_EQ(text, "amid cannot be stopped from here (no main loop)\n");

	GMainLoop *loop = g_main_loop_new(nullptr, FALSE);
	amid_core_set_main_loop(loop);
	EXPECT_EQ(run("core stop now", text), 0);
	EXPECT_EQ(text, "Shutting down amid\n");
	amid_core_set_main_loop(nullptr);
	g_main_loop_unref(loop);
}

TEST(Cli, NoConfigurationIsAFailure)
{
	std::string text;
	amid_core_set_config(nullptr);
	EXPECT_EQ(run("manager show users", text), 0);
	EXPECT_EQ(text, "There are no manager users.\n");
	EXPECT_EQ(run("manager show user admin", text), -ECANCELED);
	EXPECT_EQ(text, "There is no manager called admin\n");
	EXPECT_EQ(run("core reload", text), -ECANCELED);
	EXPECT_EQ(text.rfind("Configuration not reloaded: ", 0), 0u) << text;
	ASSERT_EQ(run("manager show connected", text), 0);
	EXPECT_NE(text.find("\n0 users connected.\n"), std::string::npos);
}

TEST(Cli, ControlSocketOption)
{
	char *name = nullptr;
	int fd = g_file_open_tmp("amid-unit-XXXXXX.conf", &name, nullptr);
	ASSERT_GE(fd, 0);
	std::string path = name;
	g_free(name);
	const std::string text =
		"general = { controlsocket = \"/tmp/x/amid.ctl\"; };\n";
	ASSERT_EQ(::write(fd, text.data(), text.size()),
		  static_cast<ssize_t>(text.size()));
	close(fd);
	GError *error = nullptr;
	AmidConfig *c = amid_config_load(path.c_str(), &error);
	ASSERT_NE(c, nullptr) << (error ? error->message : "");
	EXPECT_STREQ(c->controlsocket, "/tmp/x/amid.ctl");
	amid_config_unref(c);

	fd = open(path.c_str(), O_WRONLY | O_TRUNC);
	ASSERT_GE(fd, 0);
	const std::string none = "general = { };\n";
	ASSERT_EQ(::write(fd, none.data(), none.size()),
		  static_cast<ssize_t>(none.size()));
	close(fd);
	c = amid_config_load(path.c_str(), &error);
	ASSERT_NE(c, nullptr);
	EXPECT_EQ(c->controlsocket, nullptr); // the default path
	amid_config_unref(c);
	unlink(path.c_str());
}
