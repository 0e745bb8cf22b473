/*
 * mod_http: request parameters and the three reply formats.
 * rawman is the AMI text itself; mxml and html turn each block (lines up to
 * a blank line) into one XML element or a run of table rows (see the wire
 * notes, AMI over HTTP).
 */
#include "http.h"

#include <string.h>

static void param_free(gpointer p)
{
	HttpParam *hp = p;
	g_free(hp->name);
	g_free(hp->value);
	g_free(hp);
}

static char *form_decode(const char *s, gsize len)
{
	g_autofree char *t = g_strndup(s, len);
	for (char *p = t; *p; p++)
		if (*p == '+')
			*p = ' ';
	char *out = g_uri_unescape_string(t, NULL);
	if (!out)
		return NULL; /* bad %-escape or an encoded NUL */
	/* A value must stay on its line: CR and LF would inject headers. */
	for (char *p = out; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	return out;
}

void http_parse_form(const char *text, GPtrArray *params)
{
	if (!text)
		return;
	const char *p = text;
	while (*p && params->len < HTTP_MAX_PARAMS) {
		const char *end = strchr(p, '&');
		gsize len = end ? (gsize)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		gsize nlen = eq ? (gsize)(eq - p) : len;
		char *name = form_decode(p, nlen);
		char *value = eq ? form_decode(eq + 1, len - nlen - 1)
				 : g_strdup("");
		/* A name must be one header name: no blanks or colons. */
		gboolean ok = name && value && *name &&
			      !strpbrk(name, ": \t");
		if (ok) {
			HttpParam *hp = g_new(HttpParam, 1);
			hp->name = name;
			hp->value = value;
			g_ptr_array_add(params, hp);
		} else {
			g_free(name);
			g_free(value);
		}
		if (!end)
			break;
		p = end + 1;
	}
}

const char *http_param(GPtrArray *params, const char *name)
{
	for (guint i = 0; params && i < params->len; i++) {
		HttpParam *hp = params->pdata[i];
		if (!g_ascii_strcasecmp(hp->name, name))
			return hp->value;
	}
	return NULL;
}

void http_escape(GString *out, const char *s, gssize len)
{
	const char *end = len < 0 ? s + strlen(s) : s + len;
	for (; s < end; s++) {
		switch (*s) {
		case '<': g_string_append(out, "&lt;"); break;
		case '>': g_string_append(out, "&gt;"); break;
		case '"': g_string_append(out, "&quot;"); break;
		case '\'': g_string_append(out, "&apos;"); break;
		case '&': g_string_append(out, "&amp;"); break;
		default: g_string_append_c(out, *s);
		}
	}
}

/* Split one line into name and value (value: leading blanks skipped). */
static gboolean split_line(const char *line, gsize len, gsize *nlen,
			   const char **val, gsize *vlen)
{
	const char *colon = memchr(line, ':', len);
	if (!colon)
		return FALSE;
	*nlen = (gsize)(colon - line);
	const char *v = colon + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	*val = v;
	*vlen = (gsize)(end - v);
	return TRUE;
}

/* Call @fn for every block of @ami with its lines. */
typedef void (*BlockFn)(GString *out, GPtrArray *lines, void *data);

static void for_each_block(const char *ami, gsize len, GString *out,
			   BlockFn fn, void *data)
{
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
	const char *p = ami, *end = ami + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (gsize)(end - p));
		const char *le = nl ? nl : end;
		gsize l = (gsize)(le - p);
		if (l && p[l - 1] == '\r')
			l--;
		if (l == 0) {
			if (lines->len)
				fn(out, lines, data);
			g_ptr_array_set_size(lines, 0);
		} else {
			g_ptr_array_add(lines, g_strndup(p, l));
		}
		p = nl ? nl + 1 : end;
	}
	if (lines->len)
		fn(out, lines, data);
}

/* ------------------------------------------------------------- mxml */

typedef struct {
	const char *dest;
	const char *objtype;
} XmlCtx;

static void xml_name(GString *out, const char *name, gsize len)
{
	if (len && g_ascii_isdigit(name[0]))
		g_string_append_c(out, '_');
	for (gsize i = 0; i < len; i++)
		g_string_append_c(out, g_ascii_isalnum(name[i])
					       ? g_ascii_tolower(name[i])
					       : '_');
}

static void xml_value(GString *out, const char *v, gsize len)
{
	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	http_escape(out, v, (gssize)len);
}

static void xml_block(GString *out, GPtrArray *lines, void *data)
{
	XmlCtx *x = data;
	g_autoptr(GHashTable) seen =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GString) opaque = NULL;
	g_string_append(out, "<response type='object' id='");
	http_escape(out, x->dest, -1);
	g_string_append(out, "'><");
	http_escape(out, x->objtype, -1);
	for (guint i = 0; i < lines->len; i++) {
		const char *line = lines->pdata[i];
		gsize nlen, vlen;
		const char *val;
		if (!split_line(line, strlen(line), &nlen, &val, &vlen)) {
			if (!opaque)
				opaque = g_string_new(NULL);
			else
				g_string_append_c(opaque, '\n');
			g_string_append(opaque, line);
			continue;
		}
		g_autoptr(GString) name = g_string_new(NULL);
		xml_name(name, line, nlen);
		guint n = GPOINTER_TO_UINT(g_hash_table_lookup(seen, name->str)) + 1;
		g_hash_table_replace(seen, g_strdup(name->str), GUINT_TO_POINTER(n));
		g_string_append_c(out, ' ');
		g_string_append(out, name->str);
		if (n > 1)
			g_string_append_printf(out, "-%u", n);
		g_string_append(out, "='");
		xml_value(out, val, vlen);
		g_string_append_c(out, '\'');
	}
	if (opaque) {
		g_string_append(out, " opaque_data='");
		xml_value(out, opaque->str, opaque->len);
		g_string_append_c(out, '\'');
	}
	g_string_append(out, " /></response>\n");
}

/* ------------------------------------------------------------- html */

static void html_block(GString *out, GPtrArray *lines, void *data)
{
	for (guint i = 0; i < lines->len; i++) {
		const char *line = lines->pdata[i];
		gsize nlen, vlen;
		const char *val;
		if (!split_line(line, strlen(line), &nlen, &val, &vlen)) {
			g_string_append(out, "<tr><td colspan=\"2\">");
			http_escape(out, line, -1);
			g_string_append(out, "</td></tr>\n");
			continue;
		}
		g_string_append(out, "<tr><td>");
		http_escape(out, line, (gssize)nlen);
		g_string_append(out, "</td><td>");
		http_escape(out, val, (gssize)vlen);
		g_string_append(out, "</td></tr>\n");
	}
	g_string_append(out, "<tr><td colspan=\"2\"><hr></td></tr>\r\n");
}

typedef struct {
	GString *out;
	const char *selected;
} OptCtx;

static void add_option(const AmiActionInfo *info, void *data)
{
	OptCtx *o = data;
	g_string_append(o->out, "\t\t<option value=\"");
	http_escape(o->out, info->name, -1);
	g_string_append_c(o->out, '"');
	if (o->selected && !g_ascii_strcasecmp(o->selected, info->name))
		g_string_append(o->out, " selected");
	g_string_append_c(o->out, '>');
	http_escape(o->out, info->name, -1);
	g_string_append(o->out, "</option>\n");
}

static void html_form(GString *out, const char *form_action,
		      GPtrArray *params)
{
	const char *action = http_param(params, "action");
	g_string_append(out,
			"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
			"<title>amid Manager Interface</title></head>\r\n"
			"<body><table id=\"ami\" border=\"1\" "
			"cellpadding=\"3\">\r\n"
			"<tr><td colspan=\"2\"><h1>amid manager</h1></td></tr>\r\n"
			"<tr><td colspan=\"2\"><form id=\"amiform\" action=\"");
	http_escape(out, form_action, -1);
	g_string_append(out, "\" method=\"get\">\n"
			     "\tAction: <select name=\"action\">\n");
	OptCtx o = {out, action};
	ami_manager_foreach_action(add_option, &o);
	g_string_append(out,
			"\t</select><br>\n"
			"\tUsername <input name=\"username\"> "
			"Secret <input type=\"password\" name=\"secret\"><br>\n"
			"\tCommand <input name=\"command\"><br>\n"
			"\t<input type=\"submit\" value=\"Send\">\n"
			"</form>\n</td></tr>\r\n");
}

GString *http_render(HttpFormat fmt, const char *ami, gsize len,
		     GPtrArray *params, const char *form_action)
{
	GString *out = g_string_sized_new(len + 256);
	switch (fmt) {
	case HTTP_RAWMAN:
		g_string_append_len(out, ami, (gssize)len);
		break;
	case HTTP_MXML: {
		const char *dest = http_param(params, "ajaxdest");
		const char *type = http_param(params, "ajaxobjtype");
		XmlCtx x = {dest && *dest ? dest : "unknown",
			    type && *type ? type : "generic"};
		g_string_append(out, "<ajax-response>\n");
		for_each_block(ami, len, out, xml_block, &x);
		g_string_append(out, "</ajax-response>\n");
		break;
	}
	case HTTP_MANAGER:
		html_form(out, form_action, params);
		for_each_block(ami, len, out, html_block, NULL);
		g_string_append(out, "</table></body></html>\r\n");
		break;
	}
	return out;
}

void http_settings_free(HttpSettings *s)
{
	if (!s)
		return;
	g_free(s->bindaddr);
	g_free(s->tlscertfile);
	g_free(s->tlsprivatekey);
	g_free(s->prefix);
	g_free(s->realm);
	if (s->metrics_permit)
		g_ptr_array_unref(s->metrics_permit);
	if (s->metrics_deny)
		g_ptr_array_unref(s->metrics_deny);
	g_free(s);
}

GPtrArray *http_params_new(void)
{
	return g_ptr_array_new_with_free_func(param_free);
}
