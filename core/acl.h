/*
 * IP access lists as in Asterisk's permit=/deny=: rules evaluated in order
 * starting from "allow", the last matching rule decides.  IPv4 rules also
 * match IPv4-mapped IPv6 peers (amid stores those as IPv4); IPv6 rules
 * never match IPv4 peers.
 */
#ifndef AMID_ACL_H
#define AMID_ACL_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct AmidAcl AmidAcl;

AmidAcl *amid_acl_new(void);
void amid_acl_free(AmidAcl *acl);
/**
 * Append a rule.  @spec: "1.2.3.4", "10.0.0.0/8", "10.0.0.0/255.0.0.0",
 * "::1", "2001:db8::/32".  Returns FALSE (and sets @error) when malformed.
 */
gboolean amid_acl_add(AmidAcl *acl, gboolean permit, const char *spec,
		      GError **error);
/** Does @acl allow @addr (a numeric address without port)?  NULL allows. */
gboolean amid_acl_allows(const AmidAcl *acl, const char *addr);
guint amid_acl_length(const AmidAcl *acl);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(AmidAcl, amid_acl_free)

G_END_DECLS

#endif
