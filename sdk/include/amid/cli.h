/*
 * amid — the operator command line (CLI).
 *
 * The same commands `amictl` sends over the daemon's control socket
 * (`manager show connected`, `module show`, `core show uptime`, …; `help`
 * lists them).  mod_core's `Command` action runs them for AMI clients.
 * Mirrors Asterisk's ast_cli_command(), returning the output as a string.
 */
#ifndef AMID_CLI_H
#define AMID_CLI_H

#include <glib.h>

#include <amid/module.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Run one CLI command line.
 * @line: the command, words separated by blanks; double quotes group
 *   words and a backslash escapes the next character.  Command words are
 *   matched case-insensitively and must be spelled out in full.
 * @output: when not NULL, receives what the command printed: text with
 *   LF line ends, "" when it printed nothing; set on every return, also
 *   on errors, where it explains them in Asterisk's wording (transfer
 *   full, g_free it).
 * Returns 0 when the command succeeded; -ENOENT when no command matches
 *   ("No such command '…'"); -EINVAL when the line is empty or the
 *   command's arguments are wrong (the output then holds its usage);
 *   -ECANCELED when the command ran and failed (e.g. a module did not
 *   load; the output says why).
 * Thread safe; runs on the calling thread.  Some commands wait a little
 * (`module unload` waits up to 200 ms for the module's running handlers),
 * so call it from a blocking action (AMI_ACTION_BLOCKING), and never from
 * a module's load, unload or reload callback (the loader's lock is held).
 */
AMI_API int ami_cli_command(const char *line, char **output);

#ifdef __cplusplus
}
#endif

#endif /* AMID_CLI_H */
