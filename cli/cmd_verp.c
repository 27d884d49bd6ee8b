/*
 * rebound verp: build and read signed VERP return paths, so a sender can
 * put b+TOKEN@FEEDBACK_DOMAIN in MAIL FROM and rebound can tie the bounce
 * to its identity, recipient and message (classify/verp.c has the
 * format).  The secret comes from --secret-file, else the config key
 * verp.secret ($REBOUND_VERP_SECRET, or [verp] secret of --config /
 * $REBOUND_CONFIG); it is never taken from the command line, where other
 * users could read it in the process list.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "classify/classify.h"
#include "cli/cli.h"
#include "core/core.h"

/* A secret file larger than this is the wrong file. */
#define VERP_SECRET_FILE_MAX 4096

const char cmd_verp_usage[] =
    "usage: rebound verp encode --identity ID --recipient ADDRESS\n"
    "                           [--message-id ID] --domain FEEDBACK_DOMAIN\n"
    "                           [--time TIME] [--secret-file FILE]\n"
    "                           [--config FILE]\n"
    "       rebound verp decode [--recipient ADDRESS] [--secret-file FILE]\n"
    "                           [--config FILE] ADDRESS...\n"
    "\n"
    "Build and read signed VERP return paths, b+TOKEN@FEEDBACK_DOMAIN.\n"
    "The token holds the sending identity (as text up to 31 characters,\n"
    "else as a hash), a hash of the recipient, an optional message id,\n"
    "the day of sending and an HMAC-SHA256 signature; its local part is\n"
    "never over 64 octets and survives a change of case.\n"
    "\n"
    "  encode   print the return path to use as MAIL FROM\n"
    "           --identity ID        the sending domain or address\n"
    "           --recipient ADDRESS  the recipient of the message\n"
    "           --message-id ID      your id of the message (optional)\n"
    "           --domain DOMAIN      the feedback (bounce) domain whose MX\n"
    "                                is rebound\n"
    "           --time TIME          unix seconds or RFC 3339 (default:\n"
    "                                now); kept to the day\n"
    "  decode   print the fields of each ADDRESS as one JSON line, with\n"
    "           \"trusted\": false when the signature does not verify\n"
    "           (forged, or made with another secret)\n"
    "           --recipient ADDRESS  also say whether the token was made\n"
    "                                for ADDRESS (\"recipientMatch\")\n"
    "\n"
    "The secret (at least 16 bytes), the first of:\n"
    "  --secret-file FILE   the whole file, without a final newline\n"
    "  REBOUND_VERP_SECRET  in the environment\n"
    "  --config FILE        its [verp] secret (default: $REBOUND_CONFIG)\n"
    "\n"
    "Exit status: 0 ok, 1 an ADDRESS is not a VERP address or there is no\n"
    "usable secret, 2 usage error, 3 a token does not verify (its fields\n"
    "are printed all the same, with \"trusted\": false).\n";

struct verp_opts {
	const char *identity, *recipient, *message_id, *domain, *time;
	const char *secret_file, *config;
};

/* The secret into buf; *len_r its length.  0, or -1 after a message. */
static int
verp_secret(const struct verp_opts *o, char *buf, size_t bufsize, size_t *len_r)
{
	struct config *cfg = NULL;
	struct rb_error err = {0};
	const char *from, *path = o->config, *v;
	size_t len;

	if (o->secret_file != NULL) {
		FILE *fp = fopen(o->secret_file, "rb");

		if (fp == NULL) {
			fprintf(stderr, "rebound verp: %s: %s\n",
			    o->secret_file, strerror(errno));
			return -1;
		}
		len = fread(buf, 1, bufsize, fp);
		if (ferror(fp)) {
			fprintf(stderr, "rebound verp: %s: read error\n",
			    o->secret_file);
			(void)fclose(fp);
			return -1;
		}
		(void)fclose(fp);
		if (len == bufsize) {
			fprintf(stderr,
			    "rebound verp: %s: larger than %zu "
			    "bytes, not a secret\n",
			    o->secret_file, bufsize - 1);
			return -1;
		}
		/* Editors and echo add a newline; it is not the secret. */
		while (
		    len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			len--;
		from = o->secret_file;
	} else {
		if (path == NULL && (v = getenv("REBOUND_CONFIG")) != NULL &&
		    v[0] != '\0')
			path = v;
		if (config_load(path, &cfg, &err) < 0) {
			fprintf(stderr, "rebound verp: %s\n", err.msg);
			return -1;
		}
		v = config_get(cfg, "verp.secret");
		len = strlen(v);
		if (len >= bufsize)
			len = bufsize; /* refused below */
		else
			memcpy(buf, v, len);
		config_free(&cfg);
		from = "verp.secret";
		if (len == 0) {
			fprintf(stderr,
			    "rebound verp: no secret: use "
			    "--secret-file FILE, set REBOUND_VERP_SECRET, or "
			    "set secret in the [verp] section of the config\n");
			return -1;
		}
	}
	if (len < CLASSIFY_VERP_SECRET_MIN || len >= bufsize) {
		fprintf(stderr,
		    "rebound verp: the secret of %s must have %d "
		    "to %zu bytes (it has %zu)\n",
		    from, CLASSIFY_VERP_SECRET_MIN, bufsize - 1, len);
		return -1;
	}
	*len_r = len;
	return 0;
}

static int
verp_encode(const struct verp_opts *o, int nargs)
{
	struct classify_verp f;
	char secret[VERP_SECRET_FILE_MAX + 1];
	char out[CLASSIFY_VERP_ADDRESS_SIZE];
	struct rb_error err = {0};
	size_t secret_len;
	time_t t;

	if (o->identity == NULL || o->recipient == NULL || o->domain == NULL ||
	    nargs != 0) {
		fprintf(stderr,
		    "rebound verp encode: --identity, --recipient "
		    "and --domain are needed, and no other argument\n");
		fputs(cmd_verp_usage, stderr);
		return 2;
	}
	memset(&f, 0, sizeof(f));
	if (strlen(o->identity) >= sizeof(f.identity) ||
	    strlen(o->recipient) >= sizeof(f.recipient) ||
	    (o->message_id != NULL &&
	        strlen(o->message_id) >= sizeof(f.message_id))) {
		fprintf(stderr,
		    "rebound verp encode: an identity or a "
		    "recipient has at most %d bytes, a message id %d\n",
		    CLASSIFY_VERP_IDENTITY_MAX, CLASSIFY_VERP_MESSAGE_ID_MAX);
		return 2;
	}
	if (o->time != NULL) {
		if (config_parse_time(o->time, &t) < 0 || t < 0) {
			fprintf(stderr,
			    "rebound verp encode: --time '%s': "
			    "want unix seconds or RFC 3339\n",
			    o->time);
			return 2;
		}
	} else
		t = config_now();
	(void)snprintf(f.identity, sizeof(f.identity), "%s", o->identity);
	(void)snprintf(f.recipient, sizeof(f.recipient), "%s", o->recipient);
	if (o->message_id != NULL)
		(void)snprintf(
		    f.message_id, sizeof(f.message_id), "%s", o->message_id);
	f.sent = t;
	if (verp_secret(o, secret, sizeof(secret), &secret_len) < 0)
		return 1;
	if (classify_verp_encode(&f, secret, secret_len, o->domain, out,
	        sizeof(out), &err) < 0) {
		fprintf(stderr, "rebound verp encode: %s\n", err.msg);
		return 1;
	}
	printf("%s\n", out);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "rebound verp encode: write error\n");
		return 1;
	}
	return 0;
}

static json_t *
str_or_null(const char *s)
{
	return s[0] != '\0' ? json_string(s) : json_null();
}

static int
verp_decode(const struct verp_opts *o, int nargs, char **args)
{
	struct classify_verp f;
	char secret[VERP_SECRET_FILE_MAX + 1];
	struct rb_error err = {0};
	size_t secret_len;
	int i, r, status = 0;

	if (nargs == 0 || o->identity != NULL || o->message_id != NULL ||
	    o->domain != NULL || o->time != NULL) {
		fprintf(stderr, "rebound verp decode: give ADDRESS..., and "
		                "of the fields only --recipient\n");
		fputs(cmd_verp_usage, stderr);
		return 2;
	}
	if (verp_secret(o, secret, sizeof(secret), &secret_len) < 0)
		return 1;
	for (i = 0; i < nargs; i++) {
		json_t *js;
		char when[40], *line;

		r = classify_verp_decode(args[i], secret, secret_len, &f, &err);
		if (r < 0) {
			fprintf(stderr, "rebound verp decode: %s: %s\n",
			    args[i], err.msg);
			status = 1;
			continue;
		}
		if (r == CLASSIFY_VERP_FORGED && status == 0)
			status = 3;
		if (r == CLASSIFY_VERP_FORGED)
			fprintf(stderr,
			    "rebound verp decode: %s: the "
			    "signature does not verify (forged, altered or "
			    "another secret)\n",
			    args[i]);
		time_format_iso(f.sent, when, sizeof(when));
		js = json_object();
		json_object_set_new(js, "address", json_string(args[i]));
		json_object_set_new(js, "identity", str_or_null(f.identity));
		json_object_set_new(
		    js, "identityHash", json_string(f.identity_hash));
		json_object_set_new(
		    js, "recipientHash", json_string(f.recipient_hash));
		if (o->recipient != NULL)
			json_object_set_new(js, "recipientMatch",
			    json_boolean(classify_verp_match_recipient(
			        &f, o->recipient)));
		json_object_set_new(js, "messageId", str_or_null(f.message_id));
		json_object_set_new(
		    js, "messageIdHash", str_or_null(f.message_id_hash));
		json_object_set_new(js, "sent", json_string(when));
		json_object_set_new(js, "trusted", json_boolean(f.trusted));
		line = json_dumps(js, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(js);
		if (line == NULL)
			rb_panic("json_dumps: out of memory");
		puts(line);
		free(line);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "rebound verp decode: write error\n");
		status = 1;
	}
	return status;
}

int
cmd_verp(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"identity", required_argument, NULL, 'i'},
	    {"recipient", required_argument, NULL, 'r'},
	    {"message-id", required_argument, NULL, 'm'},
	    {"domain", required_argument, NULL, 'd'},
	    {"time", required_argument, NULL, 't'},
	    {"secret-file", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct verp_opts o;
	const char *sub;
	int c;

	if (argc < 2) {
		fputs(cmd_verp_usage, stderr);
		return 2;
	}
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ||
	    strcmp(sub, "help") == 0) {
		fputs(cmd_verp_usage, stdout);
		return 0;
	}
	if (strcmp(sub, "encode") != 0 && strcmp(sub, "decode") != 0) {
		fprintf(stderr, "rebound verp: unknown subcommand '%s'\n", sub);
		fputs(cmd_verp_usage, stderr);
		return 2;
	}
	memset(&o, 0, sizeof(o));
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o.identity = optarg;
			break;
		case 'r':
			o.recipient = optarg;
			break;
		case 'm':
			o.message_id = optarg;
			break;
		case 'd':
			o.domain = optarg;
			break;
		case 't':
			o.time = optarg;
			break;
		case 's':
			o.secret_file = optarg;
			break;
		case 'c':
			o.config = optarg;
			break;
		case 'h':
			fputs(cmd_verp_usage, stdout);
			return 0;
		default:
			fputs(cmd_verp_usage, stderr);
			return 2;
		}
	}
	if (strcmp(sub, "encode") == 0)
		return verp_encode(&o, argc - optind);
	return verp_decode(&o, argc - optind, argv + optind);
}
