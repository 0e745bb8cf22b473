/*
 * The operator command line (CLI): a fixed table of commands, each a
 * sequence of words and a handler that writes its output into a GString,
 * in the layout of the Asterisk command of the same name where there is
 * one.  Run by the control socket (control.c, for amictl) and, through
 * ami_cli_command(), by mod_core's Command action.
 */
#ifndef AMID_CORE_CLI_H
#define AMID_CORE_CLI_H

#include <glib.h>

G_BEGIN_DECLS

/** What a command handler returns (Asterisk's CLI_SUCCESS, …). */
typedef enum {
	AMID_CLI_SUCCESS = 0,
	AMID_CLI_FAILURE, /* ran and failed; the handler said why */
	AMID_CLI_SHOWUSAGE, /* bad arguments: the caller prints the usage */
} AmidCliResult;

/**
 * Run one command line, appending its output (LF line ends) to @out.
 * Returns 0, -ENOENT (no such command), -EINVAL (empty line, or bad
 * arguments: the usage is appended), -ECANCELED (the command failed).
 * Thread safe.  See ami_cli_command() in <amid/cli.h>.
 */
int amid_cli_run(const char *line, GString *out);

/**
 * Split @line into words: blanks separate, double quotes group, a
 * backslash escapes the next character.  Returns a NULL-terminated vector
 * (transfer full, g_strfreev) and its length in @argc.
 */
char **amid_cli_split(const char *line, int *argc);

G_END_DECLS

#endif
