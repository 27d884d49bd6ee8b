/*
 * webroot: the dashboard's static files, from the web root directory
 * (http.web_root).  Input: the decoded path segments of a GET that is
 * no API path.  Invariants: a name is built only from segments of
 * letters, digits, '-', '_' and '.', none starting with '.' (so no
 * hidden file, no "..", no slash: uri.c already refused ".." and NULs),
 * and the file opened is checked, after symbolic links are resolved, to
 * be a regular file inside the web root.  Only known extensions are
 * served, each with its exact Content-Type; every file goes out under a
 * strict Content-Security-Policy (no inline script or style, nothing
 * from another origin).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_int.h"

const char webroot_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

static const struct {
	const char *ext;
	const char *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"woff2", "font/woff2"},
    {"txt", "text/plain; charset=utf-8"},
};

static int
name_ok(const char *s)
{
	const char *p;

	if (s[0] == '\0' || s[0] == '.')
		return 0;
	for (p = s; *p != '\0'; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		        c == '.'))
			return 0;
	}
	return 1;
}

static const char *
type_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	size_t i;

	if (dot == NULL)
		return NULL;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(types[i].ext, dot + 1) == 0)
			return types[i].type;
	}
	return NULL;
}

static void
not_found(struct req *rq)
{
	reply_error(rq, 404, "NotFound", NULL, "no such file");
}

void
webroot_serve(struct req *rq)
{
	const char *root = rq->srv->web_root;
	char path[PATH_MAX], *real = NULL;
	const char *last = "index.html", *type;
	size_t o, i, rootlen;
	struct stat st;
	int fd = -1, n;

	if (root == NULL) {
		not_found(rq);
		return;
	}
	n = snprintf(path, sizeof(path), "%s", root);
	o = n > 0 ? (size_t)n : 0;
	for (i = 0; i < rq->uri.n_seg; i++) {
		const char *s = rq->uri.seg[i];

		/* A trailing "/" names the directory's index.html. */
		if (s[0] == '\0' && i + 1 == rq->uri.n_seg)
			break;
		if (!name_ok(s)) {
			not_found(rq);
			return;
		}
		n = snprintf(path + o, sizeof(path) - o, "/%s", s);
		if (n < 0 || (size_t)n >= sizeof(path) - o) {
			not_found(rq);
			return;
		}
		o += (size_t)n;
		last = s;
	}
	real = realpath(path, NULL);
	if (real != NULL && stat(real, &st) == 0 && S_ISDIR(st.st_mode)) {
		n = snprintf(path, sizeof(path), "%s/index.html", real);
		free(real);
		real = n > 0 && (size_t)n < sizeof(path) ? realpath(path, NULL)
		                                         : NULL;
		last = "index.html";
	}
	rootlen = strlen(root);
	type = type_of(last);
	if (real == NULL || type == NULL || strncmp(real, root, rootlen) != 0 ||
	    real[rootlen] != '/') {
		free(real);
		not_found(rq);
		return;
	}
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(real);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			(void)close(fd);
		not_found(rq);
		return;
	}
	rq->fd = fd;
	rq->fd_size = (uint64_t)st.st_size;
	rq->status = 200;
	rq->ctype = type;
}
