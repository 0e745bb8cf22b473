/*
 * amid — sessions opened by a module: AMI over another transport.
 *
 * A module that carries AMI over something other than the TCP listener
 * (HTTP in mod_http, a message bus, a test harness) opens a session, feeds
 * it requests as text, and receives everything a TCP client would have
 * received — responses and, once logged in, events — through a sink.
 * The session runs on one of the core's I/O workers exactly like a TCP
 * session: Login, permissions, filters, WaitEvent, datastores all apply.
 * Such sessions are not counted in authlimit and have no authtimeout
 * (the transport decides how long an idle session lives, e.g. httptimeout).
 *
 * Corresponds to Asterisk's HTTP manager sessions (mansession over http).
 */
#ifndef AMID_SDK_SESSION_H
#define AMID_SDK_SESSION_H

#include <glib.h>

#include <amid/module.h>
#include <amid/manager.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A session opened by a module (opaque, refcounted handle). */
typedef struct AmiVirtualSession AmiVirtualSession;

/** Where a virtual session's output goes.  Both run on its I/O worker. */
typedef struct AmiSessionSink {
	/**
	 * Output, in wire order: response blocks and event blocks, exactly
	 * the bytes a TCP client would read (no banner).  @data is borrowed
	 * (g_bytes_ref it to keep it).  Must not block.
	 */
	void (*output)(AmiVirtualSession *vs, GBytes *data, void *user_data);
	/**
	 * The session ended: Logoff, a failed login, a handler returning
	 * AMI_DESTROY, its user removed by a reload, ami_virtual_session_close(),
	 * or amid stopping.  Called once; output() is not called after it.
	 * The handle stays valid until its last unref.
	 */
	void (*closed)(AmiVirtualSession *vs, void *user_data);
} AmiSessionSink;

/**
 * Open a session.  @peer names the client in logs ("1.2.3.4:5678"); its
 * address part is what ACLs (permit/deny) are checked against.  @sink is
 * copied; @user_data is passed to it.  The module that opens sessions
 * must close them (and wait for closed()) before it unloads.
 * Returns a handle (transfer full: ami_virtual_session_unref), or NULL
 * when amid is stopping.  Thread safe.
 */
AMI_API AmiVirtualSession *ami_virtual_session_open(const char *peer,
						     const AmiSessionSink *sink,
						     void *user_data);

/**
 * Run one request: @request is the message as text ("Action: Ping\r\n
 * ActionID: 1\r\n", CRLF or LF line ends; the terminating blank line is
 * optional).  Requests of one session run in the order submitted.
 * Returns 0, -EPIPE when the session has ended, -EINVAL for NULL.
 * Thread safe.
 */
AMI_API int ami_virtual_session_submit(AmiVirtualSession *vs,
				       const char *request);

/**
 * Log the session in as @username without a Login action: the hook for a
 * transport that authenticated the client by its own means (HTTP digest in
 * mod_http, a client certificate, …).  The user's ACL is checked against
 * the session's peer address at once; on success the login takes effect
 * before any request submitted afterwards runs, with the user's read and
 * write permissions, filters and the event mask @event_mask
 * (AMI_EVENT_FLAG_*; AMI_EVENT_FLAG_ALL as a Login without `Events:`).
 * Nothing is written to the sink for the login itself (events such as
 * FullyBooted may follow).  A session already logged in is left as it is.
 * Returns 0, -ENOENT for an unknown user, -EACCES when the ACL refuses the
 * peer, -EPIPE when the session has ended, -EINVAL for NULL.  Thread safe.
 */
AMI_API int ami_virtual_session_login(AmiVirtualSession *vs,
				      const char *username, int event_mask);

/** End the session (asynchronously; closed() follows).  Thread safe. */
AMI_API void ami_virtual_session_close(AmiVirtualSession *vs);

/** Has the session ended?  Thread safe. */
AMI_API gboolean ami_virtual_session_is_closed(AmiVirtualSession *vs);

/** Take / drop a reference on the handle.  Thread safe. */
AMI_API AmiVirtualSession *ami_virtual_session_ref(AmiVirtualSession *vs);
AMI_API void ami_virtual_session_unref(AmiVirtualSession *vs);

#ifdef __cplusplus
}
#endif

#endif /* AMID_SDK_SESSION_H */
