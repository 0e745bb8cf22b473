/*
 * mod_test_abi — a deliberately broken module: its descriptor, written out
 * by hand, claims SDK ABI major AMI_MODULE_ABI_MAJOR + 1.  The loader must
 * refuse it before running any of its code; load() aborts the daemon to
 * prove that it never runs.
 */
#include <stdlib.h>

#include <glib.h>

#include <amid/amid.h>

/* Never called: the ABI check comes first. */
static AmiModuleLoadResult load_module(AmiModule *self)
{
	g_critical("mod_test_abi: load() ran despite the ABI mismatch");
	abort();
}

AMI_MODULE_EXPORT const AmiModuleInfo ami_module_info = {
	.magic = AMI_MODULE_MAGIC,
	.abi_major = AMI_MODULE_ABI_MAJOR + 1,
	.abi_minor = 0,
	.struct_size = sizeof(AmiModuleInfo),
	.build_signature = AMI_BUILD_SIGNATURE,
	.name = "mod_test_abi",
	.description = "Test: built for a future SDK ABI major",
	.load = load_module,
	.self_slot = NULL, /* hand-written descriptor: no handle slot */
};
