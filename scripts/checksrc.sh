#!/bin/sh
# checksrc (after curl's): the source rules of STYLE.md that a grep can
# check.  Prints file:line: problem for each and exits 1 if there is any.
#
#  1. Banned functions (comments and string literals are ignored):
#     strcpy strcat sprintf vsprintf gets strtok strncpy atoi alloca.
#     VLAs are left to the compiler (-Wvla).
#  2. One public header per folder: a file outside folder F includes only
#     F/F.h (core/core.h is core's); and the arrows of DESIGN.md's layout
#     table (classify includes only core, ...).  tests/ may include anything.
#  3. No third-party type or header in a public header F/F.h (GMime/GLib,
#     pcre2, sqlite3, rd_kafka, jansson json_t, MHD_, MMDB_).
#
# Usage: scripts/checksrc.sh [ROOT]   (default: the project root)
set -eu

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

dirs=
for d in core classify ingest store publish http cli tests bench; do
	[ -d "$d" ] && dirs="$dirs $d"
done
# shellcheck disable=SC2086
files=$(find $dirs -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
if [ -z "$files" ]; then
	echo "checksrc: no C sources found under $root" >&2
	exit 1
fi

# shellcheck disable=SC2086
awk '
BEGIN {
	split("core classify ingest store publish http cli", m, " ")
	for (i in m)
		module[m[i]] = 1
	# The "may include" column of DESIGN.md (own folder always ok).
	allow["core"] = ""
	allow["classify"] = " core "
	allow["ingest"] = " classify core "
	allow["store"] = " classify core "
	allow["publish"] = " store core "
	allow["http"] = " store classify core "
	allow["cli"] = " core classify ingest store publish http "
	allow["bench"] = allow["cli"]
	banned = "(^|[^A-Za-z0-9_])(strcpy|strcat|sprintf|vsprintf|gets|strtok|strncpy|atoi|alloca)[ \t]*[(]"
	third = "GMime[A-Za-z0-9_]*|gmime|<glib|(^|[^A-Za-z0-9_])G[A-Z][a-z][A-Za-z0-9_]*|(^|[^A-Za-z0-9_])g(char|uchar|short|ushort|int|uint|long|ulong|size|ssize|boolean|pointer|constpointer|double|float|int8|uint8|int16|uint16|int32|uint32|int64|uint64|offset)([^A-Za-z0-9_]|$)|pcre2[A-Za-z0-9_]*|sqlite3[A-Za-z0-9_]*|rd_kafka[A-Za-z0-9_]*|librdkafka|json_t|jansson|MHD_[A-Za-z0-9_]*|microhttpd|MMDB_[A-Za-z0-9_]*|maxminddb"
	problems = 0
	nfiles = 0
	sq = sprintf("%c", 39)
}

function report(msg) {
	printf "%s:%d: %s\n", FILENAME, FNR, msg
	problems++
}

# The line without comments and with string/char literals emptied;
# in_comment carries a /* */ comment over lines.  #include lines are
# kept as they are (their "path" is not a string).
function strip(line,    out, i, n, c, q) {
	if (!in_comment && line ~ /^[ \t]*#[ \t]*include/)
		return line
	out = ""
	n = length(line)
	i = 1
	while (i <= n) {
		c = substr(line, i, 1)
		if (in_comment) {
			if (substr(line, i, 2) == "*/") {
				in_comment = 0
				out = out " "
				i += 2
			} else
				i++
			continue
		}
		if (substr(line, i, 2) == "/*") {
			in_comment = 1
			i += 2
			continue
		}
		if (substr(line, i, 2) == "//")
			break
		if (c == "\"" || c == sq) {
			q = c
			out = out q
			for (i++; i <= n; i++) {
				c = substr(line, i, 1)
				if (c == "\\") {
					i++
					continue
				}
				if (c == q)
					break
			}
			out = out q
			i++
			continue
		}
		out = out c
		i++
	}
	return out
}

FNR == 1 {
	nfiles++
	in_comment = 0
	folder = FILENAME
	sub(/\/.*/, "", folder)
	public = (FILENAME == folder "/" folder ".h")
}

{
	s = strip($0)

	rest = s
	while (match(rest, banned)) {
		name = substr(rest, RSTART, RLENGTH)
		rest = substr(rest, RSTART + RLENGTH)
		sub(/^[^A-Za-z_]/, "", name)
		sub(/[ \t]*[(]$/, "", name)
		report("banned function " name "() (STYLE.md: use snprintf, memcpy with lengths, parse_u64, strtok_r)")
	}

	rest = s
	while (public && match(rest, third)) {
		name = substr(rest, RSTART, RLENGTH)
		rest = substr(rest, RSTART + RLENGTH)
		gsub(/^[^A-Za-z_<]+|[^A-Za-z0-9_]+$/, "", name)
		report("third-party name \"" name "\" in public header (STYLE.md: opaque handles only)")
	}

	if (folder != "tests" && s ~ /^[ \t]*#[ \t]*include[ \t]*["<]/) {
		inc = s
		sub(/^[ \t]*#[ \t]*include[ \t]*["<]/, "", inc)
		sub(/[">].*$/, "", inc)
		if (inc ~ /(^|\/)\.\.\//) {
			report("relative include \"" inc "\": include other folders as <folder>/<folder>.h")
			next
		}
		dep = inc
		if (sub(/\/.*/, "", dep) && (dep in module) && dep != folder) {
			if (inc != dep "/" dep ".h")
				report("includes \"" inc "\", private to " dep "/ (only " dep "/" dep ".h is public)")
			else if ((folder in allow) && index(allow[folder], " " dep " ") == 0)
				report(folder "/ may not include " dep "/ (DESIGN.md layout: arrows point down)")
		}
	}
}

END {
	if (problems > 0) {
		printf "checksrc: %d problem(s) in %d files\n", problems, nfiles
		exit 1
	}
	printf "checksrc: %d files clean\n", nfiles
}
' $files
