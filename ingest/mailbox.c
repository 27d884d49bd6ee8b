/*
 * Mailbox readers: one message file, a Maildir (new/ then cur/, names
 * sorted so runs are repeatable), a directory of message files, an mbox
 * (detected by its "From " first line) or stdin.  The mbox is streamed a
 * line at a time, a line longer than MAILBOX_LINE_MAX in pieces: memory is
 * bounded by INGEST_MAX_MESSAGE, whatever the mailbox and its lines.
 * ">From " lines are unquoted one level (mboxrd).
 * Unreadable paths are reported through on_error and reading goes on.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ingest/ingest.h"

/* Bytes read per fread() of a whole file. */
#define MAILBOX_READ_CHUNK (64u * 1024)
/* Longest piece of a line handed on at once.  Mail lines are at most 998
 * octets (RFC 5322 2.1.1); a longer one (a broken base64 attachment) is
 * read in pieces of this size, so it never takes more memory. */
#define MAILBOX_LINE_MAX (64u * 1024)

/* Lines of a file, each at most MAILBOX_LINE_MAX bytes a piece. */
struct line_in {
	FILE *fp;
	size_t off, len; /* unread bytes: buf[off .. off + len) */
	int at_start;    /* the next piece starts a line */
	unsigned char buf[MAILBOX_LINE_MAX];
};

static void
line_init(struct line_in *li, FILE *fp)
{
	li->fp = fp;
	li->off = li->len = 0;
	li->at_start = 1;
}

/*
 * The next piece: up to and with its '\n', or MAILBOX_LINE_MAX bytes of
 * a longer line, or the last bytes of the file.  *start_r: whether it
 * begins a line.  Borrowed until the next call.  Returns 1, or 0 at the
 * end of the file (or a read error: ferror tells).
 */
static int
line_next(
    struct line_in *li, const unsigned char **p_r, size_t *n_r, int *start_r)
{
	const unsigned char *nl;
	size_t n;

	nl = li->len > 0 ? memchr(li->buf + li->off, '\n', li->len) : NULL;
	if (nl == NULL && !feof(li->fp) && !ferror(li->fp)) {
		memmove(li->buf, li->buf + li->off, li->len);
		li->off = 0;
		while (li->len < sizeof(li->buf) && nl == NULL) {
			size_t got = fread(li->buf + li->len, 1,
			    sizeof(li->buf) - li->len, li->fp);

			if (got == 0)
				break;
			nl = memchr(li->buf + li->len, '\n', got);
			li->len += got;
		}
	}
	if (li->len == 0)
		return 0;
	n = nl != NULL ? (size_t)(nl - (li->buf + li->off)) + 1 : li->len;
	*p_r = li->buf + li->off;
	*n_r = n;
	*start_r = li->at_start;
	li->at_start = nl != NULL;
	li->off += n;
	li->len -= n;
	return 1;
}

struct reader {
	ingest_message_fn *fn;
	ingest_error_fn *on_error;
	void *ctx;
	int failed;
	int stop;
};

/* "PATH: why" to on_error; reading goes on. */
static void
report(struct reader *rd, int code, const char *what, const char *path)
{
	struct rb_error err;

	rb_error_set(&err, code, "%s: %s%s", path, what, strerror(code));
	rd->failed = 1;
	if (rd->on_error != NULL)
		rd->on_error(&err, rd->ctx);
}

static int
deliver(struct reader *rd, const unsigned char *data, size_t len,
    const char *path, long index, int truncated)
{
	struct ingest_message m = {data, len, path, index, truncated};

	if (rd->stop)
		return -1;
	if (rd->fn(&m, rd->ctx) < 0) {
		rd->stop = 1;
		return -1;
	}
	return 0;
}

static int
is_mbox_start(const unsigned char *p, size_t len)
{
	return len >= 5 && memcmp(p, "From ", 5) == 0;
}

/*
 * A file named *.eml or *.msg holds one message even when it starts with
 * an mbox "From " line (saved by a mail client), and its body may quote
 * unescaped "From " lines.
 */
static int
single_message_name(const char *path)
{
	size_t n = strlen(path);

	return (n > 4 && (strcmp(path + n - 4, ".eml") == 0 ||
	                     strcmp(path + n - 4, ".msg") == 0));
}

/* Stream an mbox from li, whose first piece (a "From " line) is l, ln. */
static void
read_mbox(struct reader *rd, struct line_in *li, const char *path,
    const unsigned char *l, size_t ln)
{
	struct buf msg;
	long index = 0;
	int truncated = 0, have = 0, start = 1;

	buf_init(&msg, INGEST_MAX_MESSAGE);
	for (;;) {
		if (start && is_mbox_start(l, ln)) {
			if (have && deliver(rd, msg.data, msg.len, path,
			                index++, truncated) < 0)
				break;
			buf_reset(&msg);
			truncated = 0;
			have = 1;
		} else {
			/* mboxrd: ">From " -> "From ", ">>From " -> ">From ".
			 */
			if (start && ln > 5 && l[0] == '>') {
				size_t k = 0;

				while (k < ln && l[k] == '>')
					k++;
				if (ln - k >= 5 &&
				    memcmp(l + k, "From ", 5) == 0) {
					l++;
					ln--;
				}
			}
			if (!truncated && buf_append(&msg, l, ln) < 0)
				truncated = 1;
		}
		if (line_next(li, &l, &ln, &start) == 0)
			break;
	}
	if (have && !rd->stop)
		(void)deliver(rd, msg.data, msg.len, path, index, truncated);
	if (ferror(li->fp))
		report(rd, EIO, "read error: ", path);
	buf_free(&msg);
}

static void
read_file(struct reader *rd, const char *path)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	struct line_in *li;
	struct buf msg;
	const unsigned char *l;
	size_t n = 0;
	int truncated = 0, start;

	if (fp == NULL) {
		report(rd, errno, "", path);
		return;
	}
	li = xmalloc(sizeof(*li));
	line_init(li, fp);
	/* Peek at the first line to tell an mbox from a single message. */
	if (line_next(li, &l, &n, &start) == 1 && is_mbox_start(l, n) &&
	    fp != stdin && !single_message_name(path)) {
		read_mbox(rd, li, path, l, n);
		free(li);
		fclose(fp);
		return;
	}
	buf_init(&msg, INGEST_MAX_MESSAGE);
	/* The first piece and whatever else line_next had buffered. */
	n += li->len;
	if (n > 0 && buf_append(&msg, li->buf + li->off - (n - li->len), n) < 0)
		truncated = 1;
	free(li);
	for (;;) {
		char chunk[MAILBOX_READ_CHUNK];
		size_t got = fread(chunk, 1, sizeof(chunk), fp);

		if (got == 0)
			break;
		if (!truncated && buf_append(&msg, chunk, got) < 0) {
			/* Keep what fits: the notice is at the start. */
			size_t room = msg.max - msg.len;

			if (room > 0 && buf_append(&msg, chunk, room) < 0)
				rb_panic("buffer room miscounted");
			truncated = 1;
		}
	}
	if (ferror(fp))
		report(rd, EIO, "read error: ", path);
	else
		(void)deliver(rd,
		    msg.data != NULL ? msg.data : (const unsigned char *)"",
		    msg.len, path, -1, truncated);
	buf_free(&msg);
	if (fp != stdin)
		fclose(fp);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular files of dir, sorted; dot files skipped. */
static void
read_dir_files(struct reader *rd, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;

	if (d == NULL) {
		report(rd, errno, "", dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof(char *));
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	/* An empty directory has no array: qsort(NULL, 0) is undefined. */
	if (n > 1)
		qsort(names, n, sizeof(char *), cmp_names);
	for (i = 0; i < n && !rd->stop; i++) {
		size_t len = strlen(dir) + strlen(names[i]) + 2;
		char *path = xmalloc(len);
		struct stat st;

		(void)snprintf(path, len, "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			read_file(rd, path);
		free(path);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int
ingest_read_path(const char *path, ingest_message_fn *fn,
    ingest_error_fn *on_error, void *ctx)
{
	struct reader rd = {fn, on_error, ctx, 0, 0};
	struct stat st;

	if (strcmp(path, "-") == 0) {
		read_file(&rd, path);
		return rd.failed ? -1 : 0;
	}
	if (stat(path, &st) < 0) {
		report(&rd, errno, "", path);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		size_t len = strlen(path) + 5;
		char *sub = xmalloc(len);
		int maildir;

		(void)snprintf(sub, len, "%s/cur", path);
		maildir = is_dir(sub);
		(void)snprintf(sub, len, "%s/new", path);
		maildir = maildir && is_dir(sub);
		if (maildir) {
			read_dir_files(&rd, sub);
			(void)snprintf(sub, len, "%s/cur", path);
			read_dir_files(&rd, sub);
		} else {
			read_dir_files(&rd, path);
		}
		free(sub);
	} else {
		read_file(&rd, path);
	}
	return rd.failed ? -1 : 0;
}
