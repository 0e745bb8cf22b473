/*
 * amid: the daemon's entry point.  Reads the configuration, starts the I/O
 * workers and the listener, loads the start-up modules, announces
 * FullyBooted, and runs until SIGTERM/SIGINT.
 */
#include "actions.h"
#include "auth.h"
#include "config.h"
#include "control.h"
#include "core.h"
#include "loader.h"
#include "log.h"
#include "server.h"
#include "worker.h"

#include <glib-unix.h>
#include <systemd/sd-daemon.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static gboolean on_stop_signal(gpointer loop)
{
	g_message("Shutting down");
	sd_notify(0, "STOPPING=1");
	g_main_loop_quit(loop);
	return G_SOURCE_CONTINUE;
}

static gboolean on_reload_signal(gpointer unused)
{
	g_message("SIGHUP: reloading");
	/* systemd (Type=notify): reloading, then ready again. */
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT,
		   g_get_monotonic_time());
	if (ami_core_reload_config(NULL) == 0)
		ami_module_reload(NULL);
	sd_notify(0, "READY=1\nSTATUS=Reloaded");
	return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
	g_autofree char *config_path = NULL;
	g_autofree char *moduledir = NULL;
	gboolean foreground = FALSE, check = FALSE, version = FALSE;
	gboolean debug = FALSE;
	GOptionEntry entries[] = {
		{"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
		 "Configuration file (default " SYSCONFDIR "/amid/amid.conf)",
		 "FILE"},
		{"foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground,
		 "Stay in the foreground and log to stderr", NULL},
		{"test-config", 't', 0, G_OPTION_ARG_NONE, &check,
		 "Check the configuration file and exit", NULL},
		{"modules", 'm', 0, G_OPTION_ARG_FILENAME, &moduledir,
		 "Modules directory (overrides modules.directory)", "DIR"},
		{"debug", 'd', 0, G_OPTION_ARG_NONE, &debug,
		 "Log debug messages too", NULL},
		{"version", 'V', 0, G_OPTION_ARG_NONE, &version,
		 "Print the version and exit", NULL},
		{NULL}};

	g_autoptr(GOptionContext) opts =
		g_option_context_new("- Asterisk Manager Interface server");
	g_option_context_add_main_entries(opts, entries, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(opts, &argc, &argv, &error)) {
		fprintf(stderr, "amid: %s\n", error->message);
		return 2;
	}
	if (version) {
		printf("amid %s (AMI server, SDK ABI %d.%d)\n", PACKAGE_VERSION,
		       AMI_MODULE_ABI_MAJOR, AMI_MODULE_ABI_MINOR);
		return 0;
	}
	if (!config_path)
		config_path = g_strdup(SYSCONFDIR "/amid/amid.conf");

	amid_log_setup(foreground || check, debug);
	g_autoptr(AmidConfig) cfg = amid_config_load(config_path, &error);
	if (!cfg) {
		fprintf(stderr, "amid: %s\n", error->message);
		return 1;
	}
	if (check) {
		printf("%s: configuration OK\n", config_path);
		return 0;
	}
	if (!cfg->enabled) {
		g_message("general.enabled is false: nothing to do");
		return 0;
	}

	signal(SIGPIPE, SIG_IGN);
	amid_core_mark_started();
	amid_core_set_config(cfg);
	amid_actions_init();
	amid_auth_register();
	amid_loader_set_directory(moduledir ? moduledir : cfg->moduledir);

	/* Signals first: from the moment the port accepts, a SIGTERM must be
	 * a clean shutdown (it is handled once the main loop runs). */
	GMainLoop *loop = g_main_loop_new(NULL, FALSE);
	amid_core_set_main_loop(loop); /* 'core stop gracefully' */
	g_unix_signal_add(SIGTERM, on_stop_signal, loop);
	g_unix_signal_add(SIGINT, on_stop_signal, loop);
	g_unix_signal_add(SIGHUP, on_reload_signal, NULL);

	guint nworkers = cfg->workers ? (guint)cfg->workers
				      : (guint)g_get_num_processors();
	amid_workers_start(nworkers);
	if (!amid_server_start(cfg, &error)) {
		fprintf(stderr, "amid: %s\n", error->message);
		amid_workers_stop();
		g_main_loop_unref(loop);
		return 1;
	}

	if (!amid_loader_load_startup(cfg, &error)) {
		g_critical("%s: stopping", error->message);
		amid_workers_stop();
		amid_loader_unload_all();
		g_main_loop_unref(loop);
		return 1;
	}
	amid_core_mark_booted();
	amid_workers_broadcast_fullybooted();
	g_message("amid %s fully booted (%u I/O workers)", PACKAGE_VERSION,
		  nworkers);
	/* The CLI (amictl): without it the daemon still serves AMI. */
	if (!amid_control_start(cfg, &error)) {
		g_warning("%s; amictl will not work", error->message);
		g_clear_error(&error);
	}
	sd_notifyf(0, "READY=1\nSTATUS=Fully booted, listening on port %d\n"
		      "MAINPID=%lu",
		   amid_server_port(), (unsigned long)getpid());

	g_main_loop_run(loop);

	/* As Asterisk: sessions that read `system` learn why they close. */
	ami_manager_event(AMI_EVENT_FLAG_SYSTEM, "Shutdown",
			  "Shutdown: Cleanly\r\nRestart: False\r\n");
	amid_control_stop();
	amid_core_set_main_loop(NULL);
	amid_workers_stop();
	amid_loader_unload_all();
	amid_actions_shutdown();
	amid_core_set_config(NULL);
	g_main_loop_unref(loop);
	g_message("amid stopped");
	return 0;
}
