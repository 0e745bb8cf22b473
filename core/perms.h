/* Event classes: names, Privilege strings, class-list and event-mask parsing. */
#ifndef AMID_PERMS_H
#define AMID_PERMS_H

#include <glib.h>
#include <amid/manager.h>

G_BEGIN_DECLS

/**
 * Parse a config class list ("system,call, Log") strictly: names trimmed and
 * case-insensitive, exact names only (no prefix matching), "all" = every
 * class, "none" or "" = 0.  Unknown names are skipped; when @unknown is not
 * NULL it receives them comma-joined (transfer full) or NULL when none.
 */
int amid_perms_parse_list(const char *list, char **unknown);

/** Bit mask of one class name ("user"), 0 when unknown.  Case-insensitive. */
int amid_perms_class_bit(const char *name);

G_END_DECLS

#endif
