/*
 * Rules: ordered PCRE2 patterns read from "*.rules" files (format in
 * data/rules/README.md), compiled once with JIT and match limits, then
 * shared read-only by every thread.  A user's directory is loaded first,
 * so its rules are tried first and win.
 *
 * Limits: RULES_MAX_LINE bytes per line, RULES_MAX_RULES rules in all,
 * and PCRE2 match/depth/heap limits per match (rspamd's approach: a
 * pathological pattern on hostile text fails the match, never hangs).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>
#include <glib.h>

#include "classify_int.h"

/* A rule line longer than this is a mistake, not a pattern. */
#define RULES_MAX_LINE 4096
/* Bound on rules in all: protects start-up time and per-message cost. */
#define RULES_MAX_RULES 20000
/* Backtracking budget per match (PCRE2 default is 10,000,000). */
#define RULES_MATCH_LIMIT 200000
/* Recursion depth / heap budget per match. */
#define RULES_DEPTH_LIMIT 2000
#define RULES_HEAP_LIMIT_KB 2048
/* Text longer than this is cut before matching (diagnostics are short). */
#define RULES_MAX_SUBJECT (64u * 1024)

struct rule {
	pcre2_code *re;
	enum classify_reason reason;
	enum classify_bounce_type bounce_type;
	char status_cond[16]; /* "" = any; "5.7.1" exact; "5.7." prefix */
	char code_cond[4];    /* "" = any; "550"; "55x"; "5xx" */
	char *rcpt_cond;      /* recipient domains (comma-separated), or NULL */
	char *mta_cond;   /* mail server domains (comma-separated), or NULL */
	char cmd_cond[8]; /* "" = any; "RCPT", "DATA", "MAIL", ... */
	/* Lower-case literals, one of which every match contains (one
	 * per top-level alternative, each NUL-terminated, an empty string
	 * ending the list), or NULL: a text without any of them is skipped
	 * without running the pattern. */
	char *need;
	bool has_cond;    /* any of the conditions above is set */
	char *set_status; /* status the rule implies, or NULL */
	bool force;
	bool rcptstage;
	bool user;
	const char *file; /* points into rules->files */
	unsigned line;
};

struct classify_rules {
	struct rule *rules[RULES_SECTION_COUNT];
	size_t n[RULES_SECTION_COUNT];
	size_t cap[RULES_SECTION_COUNT];
	char **files;
	size_t n_files;
	pcre2_match_context *mctx;
	size_t total;
};

static const char *const section_names[RULES_SECTION_COUNT] = {
    "diagnostic",
    "diagnostic-fallback",
    "autoreply-subject",
    "autoreply-header",
    "bounce-from",
    "bounce-subject",
    "bounce-body",
    "not-bounce",
    "returned-message",
    "delayed",
};

static int
parse_type(const char *v, enum classify_bounce_type *bt_r)
{
	if (strcmp(v, "Permanent") == 0)
		*bt_r = CLASSIFY_BOUNCE_PERMANENT;
	else if (strcmp(v, "Transient") == 0)
		*bt_r = CLASSIFY_BOUNCE_TRANSIENT;
	else if (strcmp(v, "Undetermined") == 0)
		*bt_r = CLASSIFY_BOUNCE_UNDETERMINED;
	else
		return -1;
	return 0;
}

static bool
cond_ok(const char *cond, size_t max)
{
	size_t n = strlen(cond), i;

	if (n == 0 || n >= max)
		return false;
	for (i = 0; i < n; i++) {
		char c = cond[i];

		if (!((c >= '0' && c <= '9') || c == '.' || c == 'x'))
			return false;
	}
	return true;
}

/* A lower-case copy (domain lists are compared byte for byte). */
static char *
lower_dup(const char *v)
{
	char *o = xstrdup(v), *p;

	for (p = o; *p != '\0'; p++)
		*p = g_ascii_tolower(*p);
	return o;
}

/* The SMTP commands reason_smtp_command() reports. */
static bool
cmd_ok(const char *v)
{
	static const char *const cmds[] = {
	    "CONN", "EHLO", "MAIL", "RCPT", "DATA"};
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(v, cmds[i]) == 0)
			return true;
	}
	return false;
}

/* Shortest literal worth testing before a pattern. */
#define RULES_MIN_NEED 3

static bool
quantifier(char c)
{
	return c == '?' || c == '*' || c == '{';
}

/* Index just past the class opening at p[i] ("[abc]", "[]x]", "[^]x]"). */
static size_t
skip_class(const char *p, size_t n, size_t i)
{
	i++;
	if (i < n && p[i] == '^')
		i++;
	if (i < n && p[i] == ']')
		i++;
	for (; i < n; i++) {
		if (p[i] == '\\')
			i++;
		else if (p[i] == ']')
			return i + 1;
	}
	return n;
}

/* Index just past the group or class opening at p[i]. */
static size_t
skip_group(const char *p, size_t n, size_t i)
{
	int depth = 0;

	if (p[i] == '[')
		return skip_class(p, n, i);
	for (; i < n; i++) {
		if (p[i] == '\\') {
			i++;
		} else if (p[i] == '[') {
			i = skip_class(p, n, i) - 1;
		} else if (p[i] == '(') {
			depth++;
		} else if (p[i] == ')') {
			if (--depth == 0)
				return i + 1;
		}
	}
	return n;
}

/* Index of the first top-level '|' of p[0..n), or n. */
static size_t
top_bar(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (p[i] == '\\')
			i += 2;
		else if (p[i] == '(' || p[i] == '[')
			i = skip_group(p, n, i);
		else if (p[i] == '|')
			return i;
		else
			i++;
	}
	return n;
}

/*
 * The longest run of plain characters at the top level of a pattern
 * (outside groups and classes, not made optional by a quantifier), which
 * every match must contain, for one alternative (no top-level "|").
 * NULL when there is none worth it, or for extended patterns.  Bytes
 * above ASCII end a run: caseless matching of those is not a byte test.
 * Caller frees.
 */
static char *
branch_literal(const char *p, bool extended)
{
	size_t n = strlen(p), i = 0, cur = 0, best = 0;
	char run[RULES_MAX_LINE + 1], keep[RULES_MAX_LINE + 1];

	if (extended || strstr(p, "\\Q") != NULL)
		return NULL;
	while (i < n) {
		char c = p[i], lit = 0;
		bool is_lit = false, cut = false;

		if (c == '\\' && i + 1 < n) {
			char e = p[i + 1];

			/* "\." is a dot; "\b", "\d", "\x41" ... are not plain.
			 */
			if (!g_ascii_isalnum(e)) {
				lit = e;
				is_lit = true;
			}
			i += 2;
		} else if (c == '(' || c == '[') {
			i = skip_group(p, n, i);
		} else if (c == '|') {
			return NULL;
		} else {
			if (c != '.' && c != '^' && c != '$' && c != '+' &&
			    !quantifier(c) && (unsigned char)c < 0x80) {
				lit = c;
				is_lit = true;
			}
			i++;
		}
		if (i < n && (quantifier(p[i]) || p[i] == '+')) {
			/* "x+" needs one x; "x?", "x*", "x{0,2}" need none;
			 * whatever the atom, its quantifier is no literal. */
			bool plus = p[i] == '+';

			if (p[i] == '{') {
				while (i < n && p[i] != '}')
					i++;
			}
			i++;
			if (i < n && (p[i] == '?' || p[i] == '+'))
				i++; /* lazy or possessive */
			if (plus && is_lit)
				run[cur++] = (char)g_ascii_tolower(lit);
			cut = true;
		} else if (!is_lit) {
			cut = true;
		} else {
			run[cur++] = (char)g_ascii_tolower(lit);
		}
		if (cut || i >= n) {
			if (cur > best) {
				memcpy(keep, run, cur);
				best = cur;
			}
			cur = 0;
		}
	}
	if (best < RULES_MIN_NEED)
		return NULL;
	keep[best] = '\0';
	return xstrdup(keep);
}

static char *required_literal(const char *p, bool extended);

/*
 * For a branch with no literal run of its own: the literals of its first
 * group that every match goes through ("\\b(?:no such user|unknown
 * user)\\b" needs one of the two), or NULL.  A group made optional by a
 * quantifier, and lookarounds, which consume nothing, are skipped.
 */
static char *
group_literals(const char *p, bool extended)
{
	size_t n = strlen(p), i = 0;

	while (i < n) {
		if (p[i] == '\\') {
			i += 2;
		} else if (p[i] == '[') {
			i = skip_class(p, n, i);
		} else if (p[i] == '(') {
			size_t end = skip_group(p, n, i), in = i + 1;
			bool optional =
			    end < n && (p[end] == '?' || p[end] == '*' ||
			                   (p[end] == '{' && end + 1 < n &&
			                       p[end + 1] == '0'));

			if (p[in] == '?' && in + 1 < end) {
				if (p[in + 1] != ':')
					optional = true; /* lookaround, flags */
				in += 2;
			}
			if (!optional && end > in + 1) {
				char *inner = xstrndup(p + in, end - 1 - in);
				char *lits = required_literal(inner, extended);

				free(inner);
				if (lits != NULL)
					return lits;
			}
			i = end;
		} else {
			i++;
		}
	}
	return NULL;
}

/*
 * The literals of required_literal(): one per top-level alternative
 * ("a|b|c" needs "a" or "b" or "c"), NULL when any alternative has none.
 * Caller frees.
 */
static char *
required_literal(const char *p, bool extended)
{
	size_t n = strlen(p), start = 0, out = 0, cap = n + 2;
	char *list = xmalloc(cap);

	while (start <= n) {
		size_t end = start + top_bar(p + start, n - start);
		char *branch = xstrndup(p + start, end - start);
		char *lit = branch_literal(branch, extended);
		size_t ll;

		if (lit != NULL) {
			/* One literal: make it a list of one. */
			ll = strlen(lit) + 1;
		} else if (!extended &&
		           (lit = group_literals(branch, extended)) != NULL) {
			/* No run of its own: a mandatory group's list. */
			for (ll = 0; lit[ll] != '\0';
			     ll += strlen(lit + ll) + 1) {
			}
		} else {
			free(branch);
			free(list);
			return NULL;
		}
		free(branch);
		if (out + ll + 1 > cap) {
			cap = out + ll + 1;
			list = xrealloc(list, cap);
		}
		memcpy(list + out, lit, ll);
		out += ll;
		free(lit);
		start = end + 1;
	}
	list[out] = '\0';
	return list;
}

/* One line: REASON [key=value | force ...] /PATTERN/FLAGS */
static int
parse_rule(struct classify_rules *r, int section, const char *file,
    unsigned lineno, char *line, bool user, struct rb_error *err)
{
	char *p = line, *slash, *last, *tok;
	struct rule ru;
	int errcode, reason;
	PCRE2_SIZE erroff;
	uint32_t opts = PCRE2_CASELESS | PCRE2_MULTILINE;

	memset(&ru, 0, sizeof(ru));
	ru.file = file;
	ru.line = lineno;
	ru.user = user;
	slash = strchr(p, '/');
	last = strrchr(p, '/');
	if (slash == NULL || last == slash)
		return rb_error_set(err, EINVAL,
		    "%s:%u: expected REASON [options] /PATTERN/", file, lineno);
	*slash = '\0';
	*last = '\0';
	for (tok = last + 1; *tok != '\0'; tok++) {
		if (*tok == 'x')
			opts |= PCRE2_EXTENDED;
		else if (*tok == 'c')
			opts &= ~(uint32_t)PCRE2_CASELESS;
		else if (*tok != ' ' && *tok != '\t' && *tok != '\r')
			return rb_error_set(err, EINVAL,
			    "%s:%u: unknown pattern flag '%c'", file, lineno,
			    *tok);
	}
	/* Words before the pattern. */
	tok = strtok_r(p, " \t", &p);
	if (tok == NULL)
		return rb_error_set(
		    err, EINVAL, "%s:%u: missing reason", file, lineno);
	if (strcmp(tok, "*") == 0) {
		reason = CLASSIFY_R_UNDEFINED;
	} else if ((reason = classify_reason_from_name(tok)) < 0) {
		return rb_error_set(err, EINVAL, "%s:%u: unknown reason '%s'",
		    file, lineno, tok);
	}
	ru.reason = (enum classify_reason)reason;
	while ((tok = strtok_r(NULL, " \t", &p)) != NULL) {
		if (strcmp(tok, "force") == 0) {
			ru.force = true;
		} else if (strcmp(tok, "rcptstage") == 0) {
			ru.rcptstage = true;
		} else if (strncmp(tok, "status=", 7) == 0 &&
		           cond_ok(tok + 7, sizeof(ru.status_cond))) {
			memcpy(ru.status_cond, tok + 7, strlen(tok + 7) + 1);
		} else if (strncmp(tok, "code=", 5) == 0 &&
		           cond_ok(tok + 5, sizeof(ru.code_cond)) &&
		           strlen(tok + 5) == 3) {
			memcpy(ru.code_cond, tok + 5, 4);
		} else if (strncmp(tok, "type=", 5) == 0 &&
		           parse_type(tok + 5, &ru.bounce_type) == 0) {
			;
		} else if (strncmp(tok, "rcpt=", 5) == 0 && tok[5] != '\0' &&
		           ru.rcpt_cond == NULL) {
			ru.rcpt_cond = lower_dup(tok + 5);
		} else if (strncmp(tok, "cmd=", 4) == 0 && cmd_ok(tok + 4)) {
			memcpy(ru.cmd_cond, tok + 4, strlen(tok + 4) + 1);
		} else if (strncmp(tok, "mta=", 4) == 0 && tok[4] != '\0' &&
		           ru.mta_cond == NULL) {
			ru.mta_cond = lower_dup(tok + 4);
		} else if (strncmp(tok, "setstatus=", 10) == 0 &&
		           status_valid(tok + 10)) {
			ru.set_status = xstrdup(tok + 10);
		} else {
			free(ru.set_status);
			free(ru.rcpt_cond);
			free(ru.mta_cond);
			return rb_error_set(err, EINVAL,
			    "%s:%u: bad option '%s'", file, lineno, tok);
		}
	}
	/*
	 * UTF mode only for patterns with non-ASCII text: byte-mode caseless
	 * matching is several times faster, and ASCII patterns mean the same
	 * in both (".{0,40}" then counts bytes, a harmless difference).
	 */
	for (tok = slash + 1; *tok != '\0'; tok++) {
		if ((unsigned char)*tok >= 0x80) {
			opts |= PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
			break;
		}
	}
	ru.re = pcre2_compile((PCRE2_SPTR)(slash + 1), PCRE2_ZERO_TERMINATED,
	    opts, &errcode, &erroff, NULL);
	if (ru.re == NULL) {
		PCRE2_UCHAR msg[160];

		pcre2_get_error_message(errcode, msg, sizeof(msg));
		free(ru.set_status);
		free(ru.rcpt_cond);
		free(ru.mta_cond);
		return rb_error_set(err, EINVAL,
		    "%s:%u: pattern error at offset %zu: %s", file, lineno,
		    (size_t)erroff, (const char *)msg);
	}
	/* JIT when available; the interpreter is the fallback. */
	(void)pcre2_jit_compile(ru.re, PCRE2_JIT_COMPLETE);
	ru.need = required_literal(slash + 1, (opts & PCRE2_EXTENDED) != 0);
	ru.has_cond = ru.status_cond[0] != '\0' || ru.code_cond[0] != '\0' ||
	              ru.rcpt_cond != NULL || ru.mta_cond != NULL ||
	              ru.cmd_cond[0] != '\0';
	if (r->total >= RULES_MAX_RULES) {
		pcre2_code_free(ru.re);
		free(ru.set_status);
		free(ru.rcpt_cond);
		free(ru.mta_cond);
		free(ru.need);
		return rb_error_set(err, E2BIG, "%s:%u: more than %d rules",
		    file, lineno, RULES_MAX_RULES);
	}
	if (r->n[section] == r->cap[section]) {
		r->cap[section] = r->cap[section] ? r->cap[section] * 2 : 64;
		r->rules[section] = xrealloc(
		    r->rules[section], r->cap[section] * sizeof(struct rule));
	}
	r->rules[section][r->n[section]++] = ru;
	r->total++;
	return 0;
}

static int
load_file(struct classify_rules *r, const char *path, const char *name,
    bool user, struct rb_error *err)
{
	FILE *fp = fopen(path, "r");
	char line[RULES_MAX_LINE + 2];
	unsigned lineno = 0;
	int section = RULES_DIAGNOSTIC;
	const char *fname;
	int rc = 0;

	if (fp == NULL)
		return rb_error_set(
		    err, errno, "%s: %s", path, strerror(errno));
	r->files = xrealloc(r->files, (r->n_files + 1) * sizeof(char *));
	r->files[r->n_files] = xstrdup(name);
	fname = r->files[r->n_files++];
	while (fgets(line, sizeof(line), fp) != NULL) {
		size_t len = strlen(line);
		char *s = line;

		lineno++;
		if (len > RULES_MAX_LINE) {
			rc = rb_error_set(
			    err, EINVAL, "%s:%u: line too long", name, lineno);
			break;
		}
		while (len > 0 &&
		       (line[len - 1] == '\n' || line[len - 1] == '\r' ||
		           line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');
			int i;

			section = -1;
			if (e != NULL) {
				*e = '\0';
				for (i = 0; i < RULES_SECTION_COUNT; i++) {
					if (strcmp(s + 1, section_names[i]) ==
					    0)
						section = i;
				}
			}
			if (section < 0) {
				rc = rb_error_set(err, EINVAL,
				    "%s:%u: unknown section '%s'", name, lineno,
				    s + 1);
				break;
			}
			continue;
		}
		if ((rc = parse_rule(r, section, fname, lineno, s, user, err)) <
		    0)
			break;
	}
	if (rc == 0 && ferror(fp))
		rc = rb_error_set(err, EIO, "%s: read error", path);
	fclose(fp);
	return rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
load_dir(
    struct classify_rules *r, const char *dir, bool user, struct rb_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i;
	int rc = 0;

	if (d == NULL)
		return rb_error_set(
		    err, errno, "rules directory %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 6 && strcmp(de->d_name + len - 6, ".rules") == 0) {
			names = xrealloc(names, (n + 1) * sizeof(char *));
			names[n++] = xstrdup(de->d_name);
		}
	}
	closedir(d);
	/* Files in name order, so "00-local.rules" can go first. */
	qsort(names, n, sizeof(char *), cmp_str);
	for (i = 0; i < n && rc == 0; i++) {
		char path[4096];
		int w = snprintf(path, sizeof(path), "%s/%s", dir, names[i]);

		if (w < 0 || (size_t)w >= sizeof(path))
			rc = rb_error_set(
			    err, ENAMETOOLONG, "%s: path too long", names[i]);
		else
			rc = load_file(r, path, names[i], user, err);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int
classify_rules_load(const char *const *dirs, size_t n_dirs,
    struct classify_rules **rules_r, struct rb_error *err)
{
	struct classify_rules *r = xcalloc(1, sizeof(*r));
	size_t i;

	r->mctx = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(r->mctx, RULES_MATCH_LIMIT);
	pcre2_set_depth_limit(r->mctx, RULES_DEPTH_LIMIT);
	pcre2_set_heap_limit(r->mctx, RULES_HEAP_LIMIT_KB);
	for (i = 0; i < n_dirs; i++) {
		/* Every directory but the last (the built-in rules) is a
		 * user's: its verdicts beat even a firm status code. */
		if (load_dir(r, dirs[i], i + 1 < n_dirs, err) < 0) {
			classify_rules_free(&r);
			return -1;
		}
	}
	*rules_r = r;
	return 0;
}

void
classify_rules_free(struct classify_rules **rp)
{
	struct classify_rules *r = *rp;
	size_t i, j;

	if (r == NULL)
		return;
	for (i = 0; i < RULES_SECTION_COUNT; i++) {
		for (j = 0; j < r->n[i]; j++) {
			pcre2_code_free(r->rules[i][j].re);
			free(r->rules[i][j].set_status);
			free(r->rules[i][j].rcpt_cond);
			free(r->rules[i][j].mta_cond);
			free(r->rules[i][j].need);
		}
		free(r->rules[i]);
	}
	for (i = 0; i < r->n_files; i++)
		free(r->files[i]);
	free(r->files);
	pcre2_match_context_free(r->mctx);
	free(r);
	*rp = NULL;
}

size_t
classify_rules_count(const struct classify_rules *rules)
{
	return rules != NULL ? rules->total : 0;
}

/* "5.7.1" matches "5.7.1"; "5.7." matches any 5.7.x; 'x' is a wildcard. */
static bool
match_cond(const char *cond, const char *value, bool prefix_ok)
{
	size_t i;

	if (cond[0] == '\0')
		return true;
	if (value == NULL || value[0] == '\0')
		return false;
	for (i = 0; cond[i] != '\0'; i++) {
		if (value[i] == '\0')
			return false;
		if (cond[i] != 'x' && cond[i] != value[i])
			return false;
	}
	return value[i] == '\0' || (prefix_ok && cond[i - 1] == '.');
}

/* Is name (a domain or host name) dom or a subdomain of it?  Both are
 * lower-case (rule domains are lowered at load). */
static bool
in_domain(const char *name, size_t nl, const char *dom, size_t dl)
{
	if (nl < dl || memcmp(name + nl - dl, dom, dl) != 0)
		return false;
	return nl == dl || name[nl - dl - 1] == '.';
}

/* Is name within one of the comma-separated domains of list? */
static bool
in_domains(const char *list, const char *name, size_t nl)
{
	const char *p = list;

	while (*p != '\0') {
		const char *comma = strchr(p, ',');
		size_t dl = comma != NULL ? (size_t)(comma - p) : strlen(p);

		if (dl > 0 && in_domain(name, nl, p, dl))
			return true;
		p += dl + (comma != NULL ? 1 : 0);
	}
	return false;
}

/* The recipient's domain lower-cased, "" when there is none. */
static const char *
rcpt_domain(struct classify_arena *a, const char *rcpt)
{
	const char *at = rcpt != NULL ? strrchr(rcpt, '@') : NULL;

	return at != NULL ? text_lower(a, at + 1) : "";
}

/* Is the recipient's domain (lower-case, or NULL) in the list? */
static bool
match_rcpt(const char *list, const char *dom)
{
	if (list == NULL)
		return true;
	return dom != NULL && in_domains(list, dom, strlen(dom));
}

/* Is one of the host names (space-separated) in the list's domains? */
static bool
match_hosts(const char *list, const char *hosts)
{
	const char *p = hosts;

	if (list == NULL)
		return true;
	if (p == NULL)
		return false;
	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		if (n > 0 && in_domains(list, p, n))
			return true;
		p += n;
		while (*p == ' ')
			p++;
	}
	return false;
}

/*
 * The text lower-cased, and which byte pairs occur in it: a rule's
 * literal with a pair the text lacks cannot be in it, which rules most
 * rules out for the price of a few bit tests.
 */
struct lowered {
	char *text;
	uint64_t pairs[65536 / 64];
};

static const struct lowered *
lower_copy(struct classify_arena *a, const char *text, size_t len)
{
	struct lowered *l = arena_alloc(a, sizeof(*l));
	char *o = arena_alloc(a, len + 1);
	size_t i;

	memset(l->pairs, 0, sizeof(l->pairs));
	/* A NUL inside the text must not hide what follows it. */
	for (i = 0; i < len; i++) {
		char ch = text[i];

		o[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32)
		       : ch != '\0'           ? ch
		                              : ' ';
		if (i > 0) {
			unsigned pr = (unsigned)(unsigned char)o[i - 1] << 8 |
			              (unsigned char)o[i];

			l->pairs[pr >> 6] |= 1ull << (pr & 63);
		}
	}
	o[len] = '\0';
	l->text = o;
	return l;
}

static bool
may_contain_one(const struct lowered *l, const char *need)
{
	size_t i;

	for (i = 1; need[i] != '\0'; i++) {
		unsigned pr = (unsigned)(unsigned char)need[i - 1] << 8 |
		              (unsigned char)need[i];

		if ((l->pairs[pr >> 6] & (1ull << (pr & 63))) == 0)
			return false;
	}
	return strstr(l->text, need) != NULL;
}

/* Does the text hold one of the literals of a list (see struct rule)? */
static bool
may_contain(const struct lowered *l, const char *need)
{
	for (; *need != '\0'; need += strlen(need) + 1) {
		if (may_contain_one(l, need))
			return true;
	}
	return false;
}

/* Per-message scratch: the match data, and the last text lowered (the
 * same diagnostic is read by several sections in a row). */
struct scratch {
	pcre2_match_data *md;
	const char *text;
	size_t len;
	const struct lowered *lower;
};

static void
scratch_destroy(void *p)
{
	struct scratch *s = p;

	pcre2_match_data_free(s->md);
	free(s);
}

static struct scratch *
scratch(struct classify_arena *a)
{
	void **slot = arena_scratch(a, scratch_destroy);

	if (*slot == NULL) {
		struct scratch *s = xcalloc(1, sizeof(*s));

		s->md = pcre2_match_data_create(1, NULL);
		*slot = s;
	}
	return *slot;
}

bool
rules_match(const struct classify_rules *rules, struct classify_arena *a,
    enum rules_section sec, const char *text, size_t len,
    const struct rule_subject *subj, struct rule_match *m_r)
{
	static const struct rule_subject none;
	const struct lowered *lower = NULL;
	const char *rdom = NULL;
	struct scratch *sc;
	pcre2_match_data *md;
	size_t i;

	if (rules == NULL || rules->n[sec] == 0)
		return false;
	if (len > RULES_MAX_SUBJECT)
		len = RULES_MAX_SUBJECT;
	sc = scratch(a);
	md = sc->md;
	if (sc->text == text && sc->len == len)
		lower = sc->lower;
	for (i = 0; i < rules->n[sec]; i++) {
		const struct rule *ru = &rules->rules[sec][i];
		int rc;

		if (subj == NULL)
			subj = &none;
		if (subj->reasons != 0 &&
		    (subj->reasons & (1ull << ru->reason)) == 0)
			continue;
		if (ru->has_cond &&
		    (!match_cond(ru->status_cond, subj->status, true) ||
		        !match_cond(ru->code_cond, subj->code, false) ||
		        (ru->rcpt_cond != NULL &&
		            !match_rcpt(ru->rcpt_cond,
		                rdom != NULL
		                    ? rdom
		                    : (rdom = rcpt_domain(a, subj->rcpt)))) ||
		        !match_hosts(ru->mta_cond, subj->hosts) ||
		        (ru->cmd_cond[0] != '\0' &&
		            (subj->command == NULL ||
		                strcmp(ru->cmd_cond, subj->command) != 0))))
			continue;
		if (ru->need != NULL) {
			/* Lower-cased once per call, for the literal tests. */
			if (lower == NULL) {
				lower = lower_copy(a, text, len);
				sc->text = text;
				sc->len = len;
				sc->lower = lower;
			}
			if (!may_contain(lower, ru->need))
				continue;
		}
		rc = pcre2_match(
		    ru->re, (PCRE2_SPTR)text, len, 0, 0, md, rules->mctx);
		if (rc < 0)
			continue;
		{
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

			m_r->reason = ru->reason;
			m_r->bounce_type = ru->bounce_type;
			m_r->status = ru->set_status;
			m_r->user = ru->user;
			m_r->force = ru->force;
			m_r->rcptstage = ru->rcptstage;
			m_r->file = ru->file;
			m_r->line = ru->line;
			m_r->stage =
			    ru->cmd_cond[0] != '\0' ? ru->cmd_cond : NULL;
			if (ov[0] <= ov[1] && ov[1] <= len) {
				m_r->matched.p = text + ov[0];
				m_r->matched.len = ov[1] - ov[0];
			} else {
				m_r->matched.p = text;
				m_r->matched.len = 0;
			}
		}
		return true;
	}
	return false;
}

bool
rules_earliest(const struct classify_rules *rules, struct classify_arena *a,
    enum rules_section sec, const char *text, size_t len, size_t *off_r)
{
	pcre2_match_data *md;
	size_t i, best = len;
	bool found = false;

	if (rules == NULL || rules->n[sec] == 0)
		return false;
	if (len > RULES_MAX_SUBJECT)
		len = RULES_MAX_SUBJECT;
	md = scratch(a)->md;
	for (i = 0; i < rules->n[sec]; i++) {
		/* Only text before the best match so far can do better. */
		size_t lim = found ? best : len;

		if (pcre2_match(rules->rules[sec][i].re, (PCRE2_SPTR)text, lim,
		        0, 0, md, rules->mctx) >= 0) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

			if (ov[0] < best) {
				best = ov[0];
				found = true;
			}
		}
	}
	if (found)
		*off_r = best;
	return found;
}
