/*
 * amid — module descriptor and module management API.
 *
 * A module is a shared object that exports exactly one symbol, the
 * descriptor `ami_module_info`, declared with AMI_MODULE_INFO().  The loader
 * dlopen()s the file with RTLD_NOW | RTLD_LOCAL, looks that one symbol up,
 * checks the magic, ABI version and build signature, and only then runs any
 * module code (no constructors are relied upon).
 *
 * Mirrors Asterisk's AST_MODULE_INFO / ast_module_info, but as a const
 * descriptor instead of a constructor that registers itself.
 */
#ifndef AMID_MODULE_H
#define AMID_MODULE_H

#include <glib.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marks a symbol the daemon exports to modules. */
#define AMI_API __attribute__((visibility("default")))
/** Marks the one symbol a module exports (its descriptor). */
#define AMI_MODULE_EXPORT __attribute__((visibility("default")))

/** "AMID" in ASCII: the first field of every descriptor. */
#define AMI_MODULE_MAGIC 0x414d4944u
/** SDK ABI major version: a module built for another major is refused. */
#define AMI_MODULE_ABI_MAJOR 1
/**
 * SDK ABI minor version: additions only.  A module built against a newer
 * minor than the daemon's is refused (it may call what is not there).
 */
#define AMI_MODULE_ABI_MINOR 0

#define AMI_STRINGIFY_(x) #x
#define AMI_STRINGIFY(x) AMI_STRINGIFY_(x)
/**
 * Build signature: facts about the compilation that must agree between the
 * daemon and a module (pointer size, long size, GLib major version).  The
 * loader compares it byte for byte and logs both strings on a mismatch.
 */
#define AMI_BUILD_SIGNATURE                                                 \
	"ptr" AMI_STRINGIFY(__SIZEOF_POINTER__) "-long" AMI_STRINGIFY(      \
		__SIZEOF_LONG__) "-glib" AMI_STRINGIFY(GLIB_MAJOR_VERSION)

/** Opaque handle of one loaded module ("self"); owned by the core. */
typedef struct AmiModule AmiModule;

/** Result of a module's load callback, as Asterisk's ast_module_load_result. */
typedef enum {
	AMI_MODULE_LOAD_SUCCESS = 0, /**< loaded and running */
	AMI_MODULE_LOAD_DECLINE = 1, /**< chose not to run (not an error) */
	AMI_MODULE_LOAD_FAILURE = -1, /**< failed; the core sweeps and unloads */
} AmiModuleLoadResult;

/**
 * The descriptor a module exports.  Append-only: new fields go before
 * `reserved`, which keeps room for growth within ABI major 1.
 */
typedef struct AmiModuleInfo {
	guint32 magic; /**< AMI_MODULE_MAGIC */
	guint16 abi_major; /**< AMI_MODULE_ABI_MAJOR at build time */
	guint16 abi_minor; /**< AMI_MODULE_ABI_MINOR at build time */
	guint32 struct_size; /**< sizeof(AmiModuleInfo) at build time */
	const char *build_signature; /**< AMI_BUILD_SIGNATURE at build time */
	const char *name; /**< "mod_example": unique, without ".so" */
	const char *description; /**< one line, shown by module listings */
	/** Where the core stores this module's handle before load() runs. */
	AmiModule **self_slot;
	/* Fields a module sets through AMI_MODULE_INFO(), in this order
	 * (C++ requires designated initializers in declaration order). */
	const char *version; /**< free text, answered by ModuleCheck */
	/** Called once after the checks; register actions here. */
	AmiModuleLoadResult (*load)(AmiModule *self);
	/** Undo every registration; return 0, or non-zero to refuse. */
	int (*unload)(AmiModule *self);
	/** Re-read configuration; NULL if the module cannot reload. */
	int (*reload)(AmiModule *self);
	/**
	 * Comma-separated module names this one needs loaded first, or NULL.
	 * Spelled `requires_` in C++, where `requires` is a keyword.
	 */
#ifdef __cplusplus
	const char *requires_;
#else
	const char *requires;
#endif
	void *reserved[8]; /**< zero; room for growth */
} AmiModuleInfo;

/* A declaration with C linkage, in C and in C++. */
#ifdef __cplusplus
#define AMI_EXTERN_C extern "C"
#else
#define AMI_EXTERN_C extern
#endif

/*
 * The module's own handle.  Declared here for every file of the module
 * (hidden: it never leaves the .so), defined once by AMI_MODULE_INFO();
 * the core fills it in before load() runs.
 */
extern __attribute__((visibility("hidden"))) AmiModule *ami_module_self_;

/**
 * Declare the module descriptor.  Use once per module, in one of its files,
 * at file scope:
 *
 *     AMI_MODULE_INFO("mod_example", "Example actions",
 *                     .version = "1.0", .load = load_module,
 *                     .unload = unload_module, .reload = reload_module,
 *                     .requires = "mod_core");
 *
 * The optional fields go in that order (C++ insists; C does not care).
 * In C++ the last one is spelled `.requires_`, and g++ -Wextra wants
 * -Wno-missing-field-initializers for this macro.
 * AMI_MODULE_SELF, the module's own handle, is valid in every file of the
 * module from the moment load() is called until unload() returns.
 */
#define AMI_MODULE_INFO(modname, desc, ...)                                 \
	__attribute__((visibility("hidden"))) AmiModule *ami_module_self_;  \
	AMI_EXTERN_C AMI_MODULE_EXPORT const AmiModuleInfo ami_module_info; \
	const AmiModuleInfo ami_module_info = {                             \
		.magic = AMI_MODULE_MAGIC,                                  \
		.abi_major = AMI_MODULE_ABI_MAJOR,                          \
		.abi_minor = AMI_MODULE_ABI_MINOR,                          \
		.struct_size = sizeof(AmiModuleInfo),                       \
		.build_signature = AMI_BUILD_SIGNATURE,                     \
		.name = modname,                                            \
		.description = desc,                                        \
		.self_slot = &ami_module_self_,                             \
		__VA_ARGS__}

/** The calling module's handle (see AMI_MODULE_INFO). */
#define AMI_MODULE_SELF (ami_module_self_)

/** Name of the symbol the loader looks up. */
#define AMI_MODULE_INFO_SYMBOL "ami_module_info"

/* ----------------------------------------------------------------------
 * Module management (used by mod_modules; any module may call these).
 * Thread safety: all of them may be called from any thread; loads and
 * unloads are serialised by the core.
 * Errors are negative errno values:
 *   -ENOENT  no such module file / module not loaded
 *   -EEXIST  already loaded
 *   -EPERM   the name points outside the modules directory
 *   -EBUSY   in use (a handler is running, or another module requires it)
 *   -ENOTSUP the module has no reload callback
 *   -ENOEXEC the file is not a valid amid module (ABI, signature, dlopen)
 *   -ECANCELED the module's load() declined or failed, or a module it
 *              requires is not loaded
 * ---------------------------------------------------------------------- */

/**
 * Load a module by name ("mod_x" or "mod_x.so") from the modules directory.
 * Returns 0 or a negative errno (see above).  Mirrors ast_load_resource().
 */
AMI_API int ami_module_load(const char *name);

/**
 * Unload a loaded module: runs its unload(), removes whatever it left
 * registered, then dlclose()s it.  Refused with -EBUSY while one of its
 * handlers runs or another loaded module requires it.
 * Mirrors ast_unload_resource(name, AST_FORCE_SOFT).
 */
AMI_API int ami_module_unload(const char *name);

/**
 * Reload one module (its reload callback), or every module that has one when
 * @name is NULL or "".  Returns 0, -ENOENT, -ENOTSUP.
 * Mirrors ast_module_reload().
 */
AMI_API int ami_module_reload(const char *name);

/**
 * Is the module (with or without ".so", case-insensitive) loaded?
 * @version_out, when not NULL, receives a newly allocated copy of the
 * module's version string (transfer full, g_free it); "" when it has none.
 * Mirrors ast_module_check().
 */
AMI_API gboolean ami_module_is_loaded(const char *name, char **version_out);

/** The module's name as in its descriptor (transfer none; lives as long as
 * the module is loaded). */
AMI_API const char *ami_module_name(const AmiModule *module);

/* ----------------------------------------------------------------------
 * Timers owned by a module (an event source on a timer, housekeeping).
 * ---------------------------------------------------------------------- */

/**
 * Call @func(@data) every @interval_ms milliseconds on the daemon's main
 * thread until it returns FALSE, ami_timer_remove() is called, or @module
 * unloads (the core removes what is left then).  Returns a timer id > 0,
 * or 0 when @func is NULL or @interval_ms is 0.  Thread safe.
 * Mirrors Asterisk's ast_sched_add() use in modules.
 */
AMI_API guint ami_timer_add(AmiModule *module, guint interval_ms,
			    gboolean (*func)(void *data), void *data);

/** Stop a timer.  Returns 0, or -ENOENT for an unknown id.  Thread safe. */
AMI_API int ami_timer_remove(guint id);

#ifdef __cplusplus
}
#endif

#endif /* AMID_MODULE_H */
