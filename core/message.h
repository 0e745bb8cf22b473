/*
 * AMI messages and the incremental parser.
 *
 * Wire format: "Key: Value" lines ended by CRLF or a bare LF; an empty line
 * ends a message.  Limits (documented in doc/protocol.md):
 *   AMID_MAX_LINE     8192 bytes per line, terminator included
 *   AMID_MAX_HEADERS  128 lines per message (Asterisk's AST_MAX_MANHEADERS)
 *   AMID_MAX_MESSAGE  65536 bytes per message
 *   AMID_MAX_GARBAGE  1 MiB discarded in one bad message → disconnect
 * A message over a limit is delivered flagged (its action is not run; the
 * session answers an error) and parsing resumes after its blank line.
 */
#ifndef AMID_MESSAGE_H
#define AMID_MESSAGE_H

#include <glib.h>
#include <amid/manager.h>

G_BEGIN_DECLS

#define AMID_MAX_LINE 8192
#define AMID_MAX_HEADERS 128
#define AMID_MAX_MESSAGE 65536
#define AMID_MAX_GARBAGE (1024 * 1024)

typedef enum {
	AMID_MSG_OK = 0,
	AMID_MSG_LINE_TOO_LONG = 1 << 0,
	AMID_MSG_TOO_MANY_LINES = 1 << 1,
	AMID_MSG_TOO_BIG = 1 << 2,
} AmidMessageFlags;

struct AmiMessage {
	guint n; /* lines stored */
	guint flags; /* AmidMessageFlags */
	GString *text; /* lines, each NUL-terminated, back to back */
	guint32 off[AMID_MAX_HEADERS]; /* start of line i in text */
};

/** New empty message (transfer full; amid_message_free). */
AmiMessage *amid_message_new(void);
void amid_message_free(AmiMessage *m);
void amid_message_reset(AmiMessage *m);
/** Append one line (without terminator); sets flags past the limits. */
void amid_message_add_line(AmiMessage *m, const char *line, gsize len);
/** Build a message from text with CRLF/LF line ends (hooks, tests). */
AmiMessage *amid_message_parse_text(const char *text);
/** The action name: the first non-empty Action header, or "". */
const char *amid_message_action(const AmiMessage *m);
/** Wire text of the error for a flagged message (static string). */
const char *amid_message_flag_error(guint flags);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(AmiMessage, amid_message_free)

typedef enum {
	AMID_PARSE_NEED_MORE, /* no complete message buffered */
	AMID_PARSE_MESSAGE, /* *out holds a message (borrowed until next call) */
	AMID_PARSE_ABUSE, /* garbage over AMID_MAX_GARBAGE: disconnect */
} AmidParseResult;

typedef struct {
	GByteArray *buf; /* unparsed input; NULL when empty (idle sessions) */
	gsize pos; /* parse position in buf */
	AmiMessage *msg; /* message being assembled; NULL when idle */
	gboolean discarding; /* inside an over-long line */
	gsize garbage; /* bytes dropped in the current bad message */
	gsize msg_bytes; /* bytes in the current message */
	gboolean handed_out; /* msg was returned; reset it on the next call */
} AmidParser;

void amid_parser_init(AmidParser *p);
void amid_parser_clear(AmidParser *p);
/**
 * Space to read into: at least @want bytes at the end of the buffer.
 * Call amid_parser_commit() with what was actually read.
 */
guint8 *amid_parser_reserve(AmidParser *p, gsize want);
void amid_parser_commit(AmidParser *p, gsize n);
/** Append bytes (tests, fuzzers). */
void amid_parser_feed(AmidParser *p, const void *data, gsize len);
/** Extract the next complete message. */
AmidParseResult amid_parser_next(AmidParser *p, AmiMessage **out);
/** Drop buffers that hold nothing (called when a session goes idle). */
void amid_parser_shrink(AmidParser *p);
/** Bytes buffered and not yet parsed. */
gsize amid_parser_pending(const AmidParser *p);

G_END_DECLS

#endif
