/*
 * mod_test_abi_minor — a deliberately broken module: built against a newer
 * SDK ABI minor (AMI_MODULE_ABI_MINOR + 1) than the daemon's, so it may
 * call functions the daemon lacks.  The loader must refuse it; load()
 * aborts the daemon to prove that it never runs.
 */
#include <stdlib.h>

#include <glib.h>

#include <amid/amid.h>

/* Never called: the ABI check comes first. */
static AmiModuleLoadResult load_module(AmiModule *self)
{
	g_critical("mod_test_abi_minor: load() ran despite the ABI mismatch");
	abort();
}

AMI_MODULE_EXPORT const AmiModuleInfo ami_module_info = {
	.magic = AMI_MODULE_MAGIC,
	.abi_major = AMI_MODULE_ABI_MAJOR,
	.abi_minor = AMI_MODULE_ABI_MINOR + 1,
	.struct_size = sizeof(AmiModuleInfo),
	.build_signature = AMI_BUILD_SIGNATURE,
	.name = "mod_test_abi_minor",
	.description = "Test: built for a newer SDK ABI minor",
	.load = load_module,
	.self_slot = NULL, /* hand-written descriptor: no handle slot */
};
