/*
 * rebound: main() and the subcommand table.  Wiring only: each command
 * is in cmd_<name>.c.  Conventions of a Unix tool: --help and help
 * COMMAND print to stdout and exit 0; a wrong option or command prints
 * the usage to stderr and exits 2; --version prints the version.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/core.h"

static const struct cli_command commands[] = {
    {"classify", "classify feedback messages and print their events",
        cmd_classify_usage, cmd_classify},
    {"ingest", "classify feedback messages and store them", cmd_ingest_usage,
        cmd_ingest},
    {"sends", "add send counts (the denominators of the rates)",
        cmd_sends_usage, cmd_sends},
    {"stats", "bounce and complaint rates per identity", cmd_stats_usage,
        cmd_stats},
    {"alerts", "alert transitions of the rates", cmd_alerts_usage, cmd_alerts},
    {"suppression", "check and manage the suppression lists",
        cmd_suppression_usage, cmd_suppression},
    {"review", "feedback that could not be classified", cmd_review_usage,
        cmd_review},
    {"verp", "build and read signed VERP return paths", cmd_verp_usage,
        cmd_verp},
    {"serve", "the daemon: SMTP endpoint, pipeline, HTTP API, Kafka",
        cmd_serve_usage, cmd_serve},
    {"status", "the outbox to Kafka and the consumed send offsets",
        cmd_status_usage, cmd_status},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
main_usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: rebound [--help] [--version] COMMAND [ARGS...]\n"
	            "\n"
	            "rebound reads bounces, complaints and auto-replies and "
	            "turns them\n"
	            "into SES-compatible events.\n"
	            "\n"
	            "commands:\n");
	for (i = 0; i < N_COMMANDS; i++)
		fprintf(
		    fp, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(fp, "  %-12s %s\n", "help", "show the help of a command");
	fprintf(fp, "\nRun 'rebound help COMMAND' for a command's options.\n");
}

static const struct cli_command *
find_command(const char *name)
{
	size_t i;

	for (i = 0; i < N_COMMANDS; i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

void
cli_usage(FILE *fp, const char *command)
{
	const struct cli_command *c = find_command(command);

	if (c != NULL)
		fputs(c->usage, fp);
	else
		main_usage(fp);
}

static int
dir_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *
cli_data_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("REBOUND_DATA_DIR");
	char exe[PATH_MAX];
	ssize_t n;

	if (env != NULL && env[0] != '\0')
		return env;
	/* Installed: <prefix>/bin/rebound -> <prefix>/share/rebound. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			if (snprintf(dir, sizeof(dir), "%s/../share/rebound",
			        exe) < (int)sizeof(dir) &&
			    dir_exists(dir))
				return dir;
		}
	}
	return REBOUND_SOURCE_DIR "/data";
}

int
main(int argc, char **argv)
{
	const struct cli_command *c;

	if (argc < 2) {
		main_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		main_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("rebound %s\n", REBOUND_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			main_usage(stdout);
			return 0;
		}
		if (find_command(argv[2]) == NULL) {
			fprintf(
			    stderr, "rebound: no such command '%s'\n", argv[2]);
			main_usage(stderr);
			return 2;
		}
		cli_usage(stdout, argv[2]);
		return 0;
	}
	if (argv[1][0] == '-') {
		fprintf(stderr, "rebound: unknown option '%s'\n", argv[1]);
		main_usage(stderr);
		return 2;
	}
	c = find_command(argv[1]);
	if (c == NULL) {
		fprintf(stderr, "rebound: no such command '%s'\n", argv[1]);
		main_usage(stderr);
		return 2;
	}
	return c->run(argc - 1, argv + 1);
}
