/*
 * raw: the feedback message as it arrived, kept for retention.raw days
 * and retrievable by event or message id.  Deflated (RFC 1951) with
 * GLib's GZlibCompressor, which gio (a dependency of gmime) already
 * brings, at level 1: mail text shrinks to about 40 % at ~90 MB/s, while
 * level 6 gains 2 % for twice the time.  One compressor per thread,
 * reset per message.  Decompression knows the original size (stored),
 * so it is one call into one buffer, and a corrupt blob is an error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#include "store_int.h"

/* zlib level: see above. */
#define RAW_LEVEL 1
/* Worst-case growth of deflate: 5 bytes per 16 KB stored block, plus
 * the end; zlib's deflateBound() adds about the same. */
#define RAW_BOUND(n) ((n) + (n) / 1000 + 64)

struct raw_deflater {
	GZlibCompressor *z;
};

struct raw_deflater *
raw_deflater_new(void)
{
	struct raw_deflater *d = xcalloc(1, sizeof(*d));

	d->z = g_zlib_compressor_new(G_ZLIB_COMPRESSOR_FORMAT_RAW, RAW_LEVEL);
	return d;
}

void
raw_deflater_free(struct raw_deflater **dp)
{
	struct raw_deflater *d = dp != NULL ? *dp : NULL;

	if (d == NULL)
		return;
	g_object_unref(d->z);
	free(d);
	*dp = NULL;
}

int
raw_deflate(struct raw_deflater *d, const unsigned char *in, size_t len,
    unsigned char **out, size_t *cap, size_t *out_len)
{
	size_t need = RAW_BOUND(len), off = 0, done = 0;

	if (*cap < need) {
		free(*out);
		*out = xmalloc(need);
		*cap = need;
	}
	g_converter_reset(G_CONVERTER(d->z));
	for (;;) {
		GConverterResult r;
		GError *gerr = NULL;
		gsize rd = 0, wr = 0;

		r = g_converter_convert(G_CONVERTER(d->z), in + off, len - off,
		    *out + done, *cap - done, G_CONVERTER_INPUT_AT_END, &rd,
		    &wr, &gerr);
		if (r == G_CONVERTER_ERROR) {
			g_clear_error(&gerr);
			return -1;
		}
		off += rd;
		done += wr;
		if (r == G_CONVERTER_FINISHED)
			break;
		if (rd == 0 && wr == 0)
			return -1; /* no progress: the bound was wrong */
	}
	*out_len = done;
	return 0;
}

int
raw_inflate(const unsigned char *in, size_t len, size_t size,
    unsigned char **out_r, struct rb_error *err)
{
	GZlibDecompressor *z;
	unsigned char *out;
	size_t off = 0, done = 0;
	int rc = -1;

	z = g_zlib_decompressor_new(G_ZLIB_COMPRESSOR_FORMAT_RAW);
	out = xmalloc(size + 1);
	for (;;) {
		GConverterResult r;
		GError *gerr = NULL;
		gsize rd = 0, wr = 0;

		/* One spare byte: more output than recorded is corruption. */
		r = g_converter_convert(G_CONVERTER(z), in + off, len - off,
		    out + done, size + 1 - done, G_CONVERTER_INPUT_AT_END, &rd,
		    &wr, &gerr);
		if (r == G_CONVERTER_ERROR) {
			rb_error_set(err, EIO, "raw message: %s",
			    gerr != NULL ? gerr->message : "inflate failed");
			g_clear_error(&gerr);
			break;
		}
		off += rd;
		done += wr;
		if (r == G_CONVERTER_FINISHED) {
			if (done != size)
				rb_error_set(err, EIO,
				    "raw message: %zu bytes, "
				    "%zu expected",
				    done, size);
			else
				rc = 0;
			break;
		}
		if (rd == 0 && wr == 0) {
			rb_error_set(err, EIO, "raw message: truncated");
			break;
		}
	}
	g_object_unref(z);
	if (rc < 0) {
		free(out);
		return -1;
	}
	out[size] = '\0';
	*out_r = out;
	return 0;
}

int
store_raw_get(struct store *st, int64_t id, int by_event,
    unsigned char **data_r, size_t *len_r, struct rb_error *err)
{
	static const char sql_msg[] =
	    "SELECT encoding, size, data FROM raw_messages"
	    " WHERE message_id = ?1";
	static const char sql_event[] =
	    "SELECT r.encoding, r.size, r.data FROM raw_messages r"
	    " JOIN events e ON e.message_id = r.message_id WHERE e.id = ?1";
	sqlite3_stmt *s;
	int rc, found = 0;

	if (sqlite3_prepare_v2(st->db, by_event ? sql_event : sql_msg, -1, &s,
	        NULL) != SQLITE_OK)
		return store_db_error(st, "raw message", err);
	(void)sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		int enc = sqlite3_column_int(s, 0);
		sqlite3_int64 size = sqlite3_column_int64(s, 1);
		const unsigned char *blob = sqlite3_column_blob(s, 2);
		size_t blen = (size_t)sqlite3_column_bytes(s, 2);

		if (size < 0 || (enc == 0 && (size_t)size != blen) || enc < 0 ||
		    enc > 1) {
			rb_error_set(err, EIO,
			    "%s: raw message %lld: bad "
			    "row",
			    st->path, (long long)id);
			found = -1;
		} else if (enc == 1) {
			found = raw_inflate(
			            blob, blen, (size_t)size, data_r, err) < 0
			            ? -1
			            : 1;
		} else {
			unsigned char *p = xmalloc(blen + 1);

			if (blen > 0)
				memcpy(p, blob, blen);
			p[blen] = '\0';
			*data_r = p;
			found = 1;
		}
		if (found == 1)
			*len_r = (size_t)size;
	} else if (rc != SQLITE_DONE) {
		found = store_db_error(st, "raw message", err);
	}
	sqlite3_finalize(s);
	return found;
}
