/*
 * mod_test_sig — a deliberately broken module: right magic and ABI, but a
 * build signature no amid build produces (as if compiled for another
 * pointer size or GLib).  The loader must refuse it and log both
 * signatures; load() aborts the daemon to prove that it never runs.
 */
#include <stdlib.h>

#include <glib.h>

#include <amid/amid.h>

/* Never called: the signature check comes first. */
static AmiModuleLoadResult load_module(AmiModule *self)
{
	g_critical("mod_test_sig: load() ran despite the signature mismatch");
	abort();
}

AMI_MODULE_EXPORT const AmiModuleInfo ami_module_info = {
	.magic = AMI_MODULE_MAGIC,
	.abi_major = AMI_MODULE_ABI_MAJOR,
	.abi_minor = AMI_MODULE_ABI_MINOR,
	.struct_size = sizeof(AmiModuleInfo),
	.build_signature = "ptr2-long2-glib1-test",
	.name = "mod_test_sig",
	.description = "Test: wrong build signature",
	.load = load_module,
	.self_slot = NULL, /* hand-written descriptor: no handle slot */
};
