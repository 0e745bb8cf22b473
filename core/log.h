/* Logging: GLib structured logging to stderr (foreground) or the journal. */
#ifndef AMID_LOG_H
#define AMID_LOG_H

#include <glib.h>

G_BEGIN_DECLS

/** Install the log writer.  @debug also shows debug messages. */
void amid_log_setup(gboolean foreground, gboolean debug);

G_END_DECLS

#endif
