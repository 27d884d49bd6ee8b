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
int cmd_ingest(int argc, char **argv);
extern const char cmd_ingest_usage[];
int cmd_sends(int argc, char **argv);
extern const char cmd_sends_usage[];
int cmd_stats(int argc, char **argv);
extern const char cmd_stats_usage[];
int cmd_alerts(int argc, char **argv);
extern const char cmd_alerts_usage[];
int cmd_suppression(int argc, char **argv);
extern const char cmd_suppression_usage[];
int cmd_review(int argc, char **argv);
extern const char cmd_review_usage[];
int cmd_verp(int argc, char **argv);
extern const char cmd_verp_usage[];
int cmd_serve(int argc, char **argv);
extern const char cmd_serve_usage[];
int cmd_status(int argc, char **argv);
extern const char cmd_status_usage[];

/*
 * The store commands' --db FILE and --config FILE (NULL: not given).
 * cli_store_open() loads the config (--config, else $REBOUND_CONFIG,
 * else defaults and environment), applies --db and opens the store;
 * on failure it prints "rebound CMD: why" and returns -1.  Close both
 * with cli_store_close().  In cmd_ingest.c.
 */
struct config;
struct store;
struct cli_store_opts {
	const char *db;
	const char *config;
};
int cli_store_open(const char *cmd, const struct cli_store_opts *o,
    struct config **cfg_r, struct store **st_r);
/* The config part of cli_store_open() alone (config_free() it). */
int cli_config_load(
    const char *cmd, const struct cli_store_opts *o, struct config **cfg_r);
void cli_store_close(struct config **cfg, struct store **st);

/* The built-in data directory (rules, samples); never NULL. */
const char *cli_data_dir(void);
/* Print a command's usage to fp. */
void cli_usage(FILE *fp, const char *command);

#endif
