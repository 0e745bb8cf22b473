/*
 * mod_test_nosym — a deliberately broken module: a valid shared object that
 * exports a function but no `ami_module_info` descriptor.  The loader must
 * refuse it ("not an amid module").
 */
#include <glib.h>

#include <amid/module.h>

/* The one exported symbol; not a descriptor. */
AMI_MODULE_EXPORT int amid_test_nosym_marker(void);

AMI_MODULE_EXPORT int amid_test_nosym_marker(void)
{
	return 42;
}
