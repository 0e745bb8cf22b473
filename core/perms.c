/*
 * Event classes.  Bit values and names are Asterisk's EVENT_FLAG_* table;
 * the Privilege string walks it in Asterisk's order.  Class lists from the
 * config are parsed strictly (trimmed, case-insensitive, exact), unlike
 * Asterisk's prefix matcher, which grants `all` for `read=a,log`.
 */
#include "perms.h"

#include <string.h>

typedef struct {
	const char *name;
	int bits;
} ClassName;

/* Order matters: it is the order of names in a Privilege string. */
static const ClassName classes[] = {
	{"system", AMI_EVENT_FLAG_SYSTEM},
	{"call", AMI_EVENT_FLAG_CALL},
	{"log", AMI_EVENT_FLAG_LOG},
	{"verbose", AMI_EVENT_FLAG_VERBOSE},
	{"command", AMI_EVENT_FLAG_COMMAND},
	{"agent", AMI_EVENT_FLAG_AGENT},
	{"user", AMI_EVENT_FLAG_USER},
	{"config", AMI_EVENT_FLAG_CONFIG},
	{"dtmf", AMI_EVENT_FLAG_DTMF},
	{"reporting", AMI_EVENT_FLAG_REPORTING},
	{"cdr", AMI_EVENT_FLAG_CDR},
	{"dialplan", AMI_EVENT_FLAG_DIALPLAN},
	{"originate", AMI_EVENT_FLAG_ORIGINATE},
	{"agi", AMI_EVENT_FLAG_AGI},
	{"cc", AMI_EVENT_FLAG_CC},
	{"aoc", AMI_EVENT_FLAG_AOC},
	{"test", AMI_EVENT_FLAG_TEST},
	{"security", AMI_EVENT_FLAG_SECURITY},
	{"message", AMI_EVENT_FLAG_MESSAGE},
	{"all", AMI_EVENT_FLAG_ALL},
};

AMI_API char *ami_authority_to_str(int mask)
{
	if (mask == 0)
		return g_strdup("<none>");

	GString *out = g_string_sized_new(32);
	for (gsize i = 0; i < G_N_ELEMENTS(classes); i++) {
		if (!(mask & classes[i].bits))
			continue;
		if (out->len)
			g_string_append_c(out, ',');
		g_string_append(out, classes[i].name);
	}
	return g_string_free(out, FALSE);
}

int amid_perms_class_bit(const char *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(classes); i++)
		if (g_ascii_strcasecmp(name, classes[i].name) == 0)
			return classes[i].bits;
	return 0;
}

int amid_perms_parse_list(const char *list, char **unknown)
{
	int mask = 0;
	GString *bad = NULL;

	if (unknown)
		*unknown = NULL;
	if (!list)
		return 0;

	g_auto(GStrv) parts = g_strsplit(list, ",", -1);
	for (char **p = parts; *p; p++) {
		char *name = g_strstrip(*p);
		if (*name == '\0' || g_ascii_strcasecmp(name, "none") == 0)
			continue;
		int bit = amid_perms_class_bit(name);
		if (bit) {
			mask |= bit;
			continue;
		}
		if (!bad)
			bad = g_string_new(NULL);
		else
			g_string_append_c(bad, ',');
		g_string_append(bad, name);
	}
	if (bad) {
		if (unknown)
			*unknown = g_string_free(bad, FALSE);
		else
			g_string_free(bad, TRUE);
	}
	return mask;
}

static gboolean is_word(const char *v, const char *const *words)
{
	for (; *words; words++)
		if (g_ascii_strcasecmp(v, *words) == 0)
			return TRUE;
	return FALSE;
}

AMI_API int ami_parse_event_mask(const char *value)
{
	static const char *const no[] = {"no", "false", "n", "f", "0", "off", NULL};
	static const char *const yes[] = {"yes", "true", "y", "t", "1", "on", NULL};

	if (!value || !*value)
		return -1;

	gboolean digits = TRUE;
	for (const char *c = value; *c; c++)
		if (!g_ascii_isdigit(*c))
			digits = FALSE;
	if (digits && !is_word(value, no) && !is_word(value, yes)) {
		guint64 v = g_ascii_strtoull(value, NULL, 10);
		return (int)(v & AMI_EVENT_FLAG_ALL);
	}
	if (is_word(value, no))
		return 0;
	if (is_word(value, yes))
		return AMI_EVENT_FLAG_ALL;
	return amid_perms_parse_list(value, NULL);
}
