/* AMI message storage, header accessors and the incremental parser. */
#include "message.h"

#include <string.h>

AmiMessage *amid_message_new(void)
{
	AmiMessage *m = g_new0(AmiMessage, 1);
	m->text = g_string_sized_new(128);
	return m;
}

void amid_message_free(AmiMessage *m)
{
	if (!m)
		return;
	g_string_free(m->text, TRUE);
	g_free(m);
}

void amid_message_reset(AmiMessage *m)
{
	m->n = 0;
	m->flags = 0;
	g_string_truncate(m->text, 0);
}

void amid_message_add_line(AmiMessage *m, const char *line, gsize len)
{
	if (m->n >= AMID_MAX_HEADERS) {
		m->flags |= AMID_MSG_TOO_MANY_LINES;
		return;
	}
	if (m->text->len + len + 1 > AMID_MAX_MESSAGE) {
		m->flags |= AMID_MSG_TOO_BIG;
		return;
	}
	m->off[m->n++] = (guint32)m->text->len;
	g_string_append_len(m->text, line, (gssize)len);
	/* A NUL inside the line truncates it, as in Asterisk (C strings). */
	g_string_append_c(m->text, '\0');
}

AmiMessage *amid_message_parse_text(const char *text)
{
	AmiMessage *m = amid_message_new();
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		gsize len = nl ? (gsize)(nl - p) : strlen(p);
		gsize linelen = len;
		if (linelen && p[linelen - 1] == '\r')
			linelen--;
		if (linelen)
			amid_message_add_line(m, p, linelen);
		p += len + (nl ? 1 : 0);
	}
	return m;
}

const char *amid_message_flag_error(guint flags)
{
	if (flags & AMID_MSG_LINE_TOO_LONG)
		return "Failed to parse message: line too long";
	if (flags & AMID_MSG_TOO_MANY_LINES)
		return "Too many lines in message or allocation failure";
	if (flags & AMID_MSG_TOO_BIG)
		return "Failed to parse message: message too large";
	return "";
}

/* Value of line @line if its name is @name (case-insensitive, colon right
 * after the name), else NULL. */
static const char *match_header(const char *line, const char *name, gsize nlen)
{
	if (g_ascii_strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
		return NULL;
	const char *v = line + nlen + 1;
	while (*v && (guchar)*v <= 0x20)
		v++;
	return v;
}

AMI_API const char *ami_get_header(const AmiMessage *m, const char *name)
{
	if (!m || !name)
		return "";
	gsize nlen = strlen(name);
	for (guint i = 0; i < m->n; i++) {
		const char *v = match_header(m->text->str + m->off[i], name, nlen);
		if (v)
			return v;
	}
	return "";
}

const char *amid_message_action(const AmiMessage *m)
{
	for (guint i = 0; i < m->n; i++) {
		const char *v = match_header(m->text->str + m->off[i], "Action", 6);
		if (v && *v)
			return v;
	}
	return "";
}

AMI_API guint ami_message_line_count(const AmiMessage *m)
{
	return m ? m->n : 0;
}

AMI_API const char *ami_message_line(const AmiMessage *m, guint i)
{
	if (!m || i >= m->n)
		return NULL;
	return m->text->str + m->off[i];
}

static void variable_free(gpointer p)
{
	AmiVariable *v = p;
	g_free(v->name);
	g_free(v->value);
	g_free(v);
}

/* Split one Variable: value on commas; double quotes group and vanish. */
static void split_variables(const char *value, GPtrArray *out)
{
	GString *item = g_string_new(NULL);
	gboolean quoted = FALSE;
	for (const char *c = value;; c++) {
		if (*c == '"') {
			quoted = !quoted;
			continue;
		}
		if (*c && (*c != ',' || quoted)) {
			g_string_append_c(item, *c);
			continue;
		}
		char *eq = strchr(item->str, '=');
		if (eq && eq != item->str) {
			AmiVariable *v = g_new(AmiVariable, 1);
			v->name = g_strndup(item->str, (gsize)(eq - item->str));
			v->value = g_strdup(eq + 1);
			g_ptr_array_add(out, v);
		}
		g_string_truncate(item, 0);
		if (!*c)
			break;
	}
	g_string_free(item, TRUE);
}

AMI_API GPtrArray *ami_get_variables(const AmiMessage *m)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(variable_free);
	for (guint i = 0; m && i < m->n; i++) {
		const char *v = match_header(m->text->str + m->off[i], "Variable", 8);
		if (v)
			split_variables(v, out);
	}
	return out;
}

/* ---------------------------------------------------------------- parser */

void amid_parser_init(AmidParser *p)
{
	memset(p, 0, sizeof(*p));
}

void amid_parser_clear(AmidParser *p)
{
	if (p->buf)
		g_byte_array_unref(p->buf);
	amid_message_free(p->msg);
	amid_parser_init(p);
}

gsize amid_parser_pending(const AmidParser *p)
{
	return p->buf ? p->buf->len - p->pos : 0;
}

guint8 *amid_parser_reserve(AmidParser *p, gsize want)
{
	if (!p->buf)
		p->buf = g_byte_array_sized_new((guint)want);
	/* Drop what is parsed before growing. */
	if (p->pos) {
		g_byte_array_remove_range(p->buf, 0, (guint)p->pos);
		p->pos = 0;
	}
	guint len = p->buf->len;
	g_byte_array_set_size(p->buf, len + (guint)want);
	g_byte_array_set_size(p->buf, len); /* keep capacity, not length */
	return p->buf->data + len;
}

void amid_parser_commit(AmidParser *p, gsize n)
{
	g_byte_array_set_size(p->buf, p->buf->len + (guint)n);
}

void amid_parser_feed(AmidParser *p, const void *data, gsize len)
{
	guint8 *dst = amid_parser_reserve(p, len);
	memcpy(dst, data, len);
	amid_parser_commit(p, len);
}

void amid_parser_shrink(AmidParser *p)
{
	if (p->buf && p->pos >= p->buf->len) {
		g_byte_array_unref(p->buf);
		p->buf = NULL;
		p->pos = 0;
	}
	if (p->msg && p->msg->n == 0 && p->msg->flags == 0 && !p->discarding) {
		amid_message_free(p->msg);
		p->msg = NULL;
		p->handed_out = FALSE;
	}
}

static void note_garbage(AmidParser *p, gsize n)
{
	if (p->msg->flags)
		p->garbage += n;
}

AmidParseResult amid_parser_next(AmidParser *p, AmiMessage **out)
{
	*out = NULL;
	if (p->handed_out) {
		/* The message returned by the previous call is done with. */
		amid_message_reset(p->msg);
		p->handed_out = FALSE;
	}
	if (!p->buf)
		return AMID_PARSE_NEED_MORE;
	if (!p->msg)
		p->msg = amid_message_new();

	for (;;) {
		const char *start = (const char *)p->buf->data + p->pos;
		gsize avail = p->buf->len - p->pos;
		const char *nl = avail ? memchr(start, '\n', avail) : NULL;

		if (!nl) {
			if (!p->discarding && avail >= AMID_MAX_LINE) {
				/* Over-long line: flag and drop it up to its LF. */
				p->msg->flags |= AMID_MSG_LINE_TOO_LONG;
				p->discarding = TRUE;
			}
			if (p->discarding) {
				p->garbage += avail;
				p->pos += avail;
			}
			return p->garbage > AMID_MAX_GARBAGE ? AMID_PARSE_ABUSE
							     : AMID_PARSE_NEED_MORE;
		}

		gsize len = (gsize)(nl - start);
		gsize raw = len + 1; /* with its terminator */
		p->pos += raw;
		p->msg_bytes += raw;
		if (p->discarding) {
			/* The tail of an over-long line is dropped too. */
			p->discarding = FALSE;
			p->garbage += raw;
			continue;
		}
		if (len && start[len - 1] == '\r')
			len--;
		if (raw > AMID_MAX_LINE) {
			p->msg->flags |= AMID_MSG_LINE_TOO_LONG;
			p->garbage += len;
			continue;
		}
		if (len == 0) {
			/* Blank line: the message is complete. */
			p->garbage = 0;
			p->msg_bytes = 0;
			p->handed_out = TRUE;
			*out = p->msg;
			return AMID_PARSE_MESSAGE;
		}
		note_garbage(p, raw); /* the whole line, terminator included */
		amid_message_add_line(p->msg, start, len);
		if (p->garbage > AMID_MAX_GARBAGE)
			return AMID_PARSE_ABUSE;
	}
}
