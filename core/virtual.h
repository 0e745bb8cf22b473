/* Sessions opened by modules (amid/session.h): core side. */
#ifndef AMID_VIRTUAL_H
#define AMID_VIRTUAL_H

#include <amid/session.h>
#include "session.h"

G_BEGIN_DECLS

/* Worker thread: create the session of @vs on @w. */
void amid_virtual_start(AmidWorker *w, AmiVirtualSession *vs);
/* Worker thread: run a submitted request; NULL closes the session. */
void amid_virtual_input(AmiVirtualSession *vs, GBytes *request);
/* Worker thread: log the session in as @username (ami_virtual_session_login). */
void amid_virtual_login(AmiVirtualSession *vs, const char *username,
			int event_mask);
/* Worker thread: hand the session's queued output to the sink. */
void amid_virtual_output(AmiSession *s);
/* Worker thread: the session closed. */
void amid_virtual_closed(AmiSession *s);

G_END_DECLS

#endif
