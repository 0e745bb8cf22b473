/* permit/deny lists, matched with GIO's GInetAddressMask. */
#include "acl.h"

#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	gboolean permit;
	GInetAddressMask *mask;
} Rule;

struct AmidAcl {
	GArray *rules; /* Rule */
};

static void rule_clear(gpointer p)
{
	Rule *r = p;
	g_clear_object(&r->mask);
}

AmidAcl *amid_acl_new(void)
{
	AmidAcl *acl = g_new0(AmidAcl, 1);
	acl->rules = g_array_new(FALSE, TRUE, sizeof(Rule));
	g_array_set_clear_func(acl->rules, rule_clear);
	return acl;
}

void amid_acl_free(AmidAcl *acl)
{
	if (!acl)
		return;
	g_array_unref(acl->rules);
	g_free(acl);
}

guint amid_acl_length(const AmidAcl *acl)
{
	return acl ? acl->rules->len : 0;
}

/* "255.255.255.0" → 24; -1 when not a contiguous netmask. */
static int netmask_bits(const char *mask)
{
	g_autoptr(GInetAddress) a = g_inet_address_new_from_string(mask);
	if (!a || g_inet_address_get_family(a) != G_SOCKET_FAMILY_IPV4)
		return -1;
	const guint8 *b = g_inet_address_to_bytes(a);
	guint32 v = ((guint32)b[0] << 24) | ((guint32)b[1] << 16) |
		    ((guint32)b[2] << 8) | b[3];
	int bits = 0;
	while (bits < 32 && (v & (0x80000000u >> bits)))
		bits++;
	/* the rest must be zero */
	if (bits < 32 && (v << bits) != 0)
		return -1;
	return bits;
}

gboolean amid_acl_add(AmidAcl *acl, gboolean permit, const char *spec,
		      GError **error)
{
	g_autofree char *s = g_strstrip(g_strdup(spec));
	g_autofree char *norm = NULL;
	char *slash = strchr(s, '/');
	if (slash && strchr(slash + 1, '.')) {
		int bits = netmask_bits(slash + 1);
		if (bits < 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
				    "'%s': bad netmask", spec);
			return FALSE;
		}
		*slash = '\0';
		norm = g_strdup_printf("%s/%d", s, bits);
	} else {
		norm = g_strdup(s);
	}
	/* GIO wants the host bits clear: apply the prefix first. */
	char *p = strchr(norm, '/');
	int prefix = -1;
	if (p) {
		/* 1-3 digits only: atoi() took "10.0.0.0/" or "/x" as /0. */
		const char *d = p + 1;
		gsize nd = strspn(d, "0123456789");
		if (nd == 0 || nd > 3 || d[nd] != '\0') {
			g_set_error(error, G_IO_ERROR,
				    G_IO_ERROR_INVALID_ARGUMENT,
				    "'%s': bad prefix length", spec);
			return FALSE;
		}
		prefix = atoi(d);
		*p = '\0';
	}
	g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(norm);
	if (!addr) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "'%s': not an IP address or network", spec);
		return FALSE;
	}
	int max = g_inet_address_get_family(addr) == G_SOCKET_FAMILY_IPV4 ? 32
									   : 128;
	if (prefix < 0)
		prefix = max;
	if (prefix > max) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "'%s': prefix longer than the address", spec);
		return FALSE;
	}
	guint8 bytes[16];
	gsize n = g_inet_address_get_native_size(addr);
	memcpy(bytes, g_inet_address_to_bytes(addr), n);
	for (gsize i = 0; i < n; i++) {
		int keep = prefix - (int)i * 8;
		guint8 m = keep >= 8 ? 0xff : keep <= 0 ? 0 : (guint8)(0xff << (8 - keep));
		bytes[i] &= m;
	}
	g_autoptr(GInetAddress) net = g_inet_address_new_from_bytes(
		bytes, g_inet_address_get_family(addr));
	GInetAddressMask *mask =
		g_inet_address_mask_new(net, (guint)prefix, error);
	if (!mask)
		return FALSE;
	Rule r = {.permit = permit, .mask = mask};
	g_array_append_val(acl->rules, r);
	return TRUE;
}

gboolean amid_acl_allows(const AmidAcl *acl, const char *addr)
{
	if (!acl || acl->rules->len == 0)
		return TRUE;
	g_autoptr(GInetAddress) a = g_inet_address_new_from_string(addr);
	if (!a)
		return FALSE;
	gboolean allow = TRUE;
	for (guint i = 0; i < acl->rules->len; i++) {
		Rule *r = &g_array_index(acl->rules, Rule, i);
		if (g_inet_address_get_family(a) ==
			    g_inet_address_mask_get_family(r->mask) &&
		    g_inet_address_mask_matches(r->mask, a))
			allow = r->permit;
	}
	return allow;
}
