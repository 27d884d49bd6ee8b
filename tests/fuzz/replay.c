/*
 * replay: a main() for the fuzz targets in builds without libFuzzer.
 *
 * Runs LLVMFuzzerInitialize() once, then LLVMFuzzerTestOneInput() on every
 * file named on the command line, directories read one level deep (the
 * seed corpus, saved crash reproducers).  A violated invariant aborts, so
 * ctest reports it; with gcc + REBOUND_SANITIZE the sanitizers watch too.
 * Files larger than REPLAY_MAX_INPUT are refused: seeds are small.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"

/* libFuzzer's default -max_len is 4096; 64 MB leaves room for any seed. */
#define REPLAY_MAX_INPUT (64u * 1024 * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay_file(const char *path)
{
	struct buf b;
	unsigned char chunk[65536];
	FILE *fp;
	size_t n;
	int rc = 0;

	fp = fopen(path, "rb");
	if (fp == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf_init(&b, REPLAY_MAX_INPUT);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (buf_append(&b, chunk, n) < 0) {
			fprintf(stderr, "replay: %s: larger than %u bytes\n",
			    path, REPLAY_MAX_INPUT);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(fp)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		rc = -1;
	}
	(void)fclose(fp);
	if (rc == 0) {
		fprintf(stderr, "replay: %s (%zu bytes)\n", path, b.len);
		(void)LLVMFuzzerTestOneInput(
		    b.data != NULL ? b.data : (const uint8_t *)"", b.len);
	}
	buf_free(&b);
	return rc;
}

static int
replay_dir(const char *dir, size_t *count_r)
{
	DIR *d;
	struct dirent *de;
	char path[4096];
	int rc = 0;

	d = opendir(dir);
	if (d == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		int n;

		if (de->d_name[0] == '.')
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &st) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (replay_file(path) < 0)
			rc = -1;
		(*count_r)++;
	}
	(void)closedir(d);
	return rc;
}

int
main(int argc, char **argv)
{
	size_t count = 0;
	int i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	(void)LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) < 0)
				rc = 1;
		} else {
			if (replay_file(argv[i]) < 0)
				rc = 1;
			count++;
		}
	}
	printf("replay: %zu inputs, %s\n", count, rc == 0 ? "ok" : "errors");
	return rc;
}
