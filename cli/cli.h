/*
 * cli: the subcommands.  main.c holds the table and dispatch; each
 * command lives in its own cmd_<name>.c.  Commands return the process
 * exit status: 0 ok, 1 failure, 2 usage error.
 */
#ifndef REBOUND_CLI_H
#define REBOUND_CLI_H

#include <stdio.h>

struct cli_command {
	const char *name;
	const char *summary;
	const char *usage; /* full help text */
	int (*run)(int argc, char **argv);
};

int cmd_classify(int argc, char **argv);
extern const char cmd_classify_usage[];

/* The built-in data directory (rules, samples); never NULL. */
const char *cli_data_dir(void);
/* Print a command's usage to fp. */
void cli_usage(FILE *fp, const char *command);

#endif
