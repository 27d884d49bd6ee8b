/*
 * raw: the feedback message as it arrived, kept for retention.raw days
 * and retrievable by event or message id.  Compressed with Zstandard
 * (RFC 8878) at level 1 by the classifier threads: feedback mail shrinks
 * to about 42 % of its size at ~220 MB/s, 20 us of a 4.4 KB message on
 * the reference machine, where zlib's level 1 (GLib's GZlibCompressor)
 * gave the same ratio at 49 MB/s, as long as classifying it.  libzstd
 * is already on every system that has librdkafka.  One context per
 * thread, reused.  Encodings of raw_messages.encoding: 0 as is, 1 raw
 * deflate (RFC 1951, rows of earlier rebound versions: still read), 2
 * a Zstandard frame.  Decompression knows the original size (stored), so
 * it is one call into one buffer, and a corrupt blob is an error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <zstd.h>

#include "store_int.h"

/* zstd level: see above (level 3 gains 1 % for 40 % more time). */
#define RAW_ZSTD_LEVEL 1

struct raw_compressor {
	ZSTD_CCtx *z;
};

struct raw_compressor *
raw_compressor_new(void)
{
	struct raw_compressor *c = xcalloc(1, sizeof(*c));

	c->z = ZSTD_createCCtx();
	if (c->z == NULL)
		rb_panic("ZSTD_createCCtx: out of memory");
	/* The size is in the row; a checksum would only repeat what
	 * SQLite's own page integrity gives. */
	if (ZSTD_isError(ZSTD_CCtx_setParameter(
	        c->z, ZSTD_c_compressionLevel, RAW_ZSTD_LEVEL)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c->z, ZSTD_c_checksumFlag, 0)))
		rb_panic("ZSTD_CCtx_setParameter failed");
	return c;
}

void
raw_compressor_free(struct raw_compressor **cp)
{
	struct raw_compressor *c = cp != NULL ? *cp : NULL;

	if (c == NULL)
		return;
	ZSTD_freeCCtx(c->z);
	free(c);
	*cp = NULL;
}

int
raw_compress(struct raw_compressor *c, const unsigned char *in, size_t len,
    unsigned char **out, size_t *cap, size_t *out_len)
{
	size_t need = ZSTD_compressBound(len), n;

	if (ZSTD_isError(need))
		return -1;
	if (*cap < need) {
		free(*out);
		*out = xmalloc(need);
		*cap = need;
	}
	n = ZSTD_compress2(c->z, *out, *cap, in, len);
	if (ZSTD_isError(n))
		return -1;
	*out_len = n;
	return 0;
}

static int
raw_unzstd(const unsigned char *in, size_t len, size_t size,
    unsigned char **out_r, struct rb_error *err)
{
	unsigned char *out = xmalloc(size + 1);
	size_t n = ZSTD_decompress(out, size, in, len);

	if (ZSTD_isError(n) || n != size) {
		if (ZSTD_isError(n))
			rb_error_set(
			    err, EIO, "raw message: %s", ZSTD_getErrorName(n));
		else
			rb_error_set(err, EIO,
			    "raw message: %zu bytes, %zu expected", n, size);
		free(out);
		return -1;
	}
	out[size] = '\0';
	*out_r = out;
	return 0;
}

/* Encoding 1: raw deflate, with GLib's zlib converter. */
static int
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

		if (size < 0 || (enc == RAW_AS_IS && (size_t)size != blen) ||
		    enc < RAW_AS_IS || enc > RAW_ZSTD) {
			rb_error_set(err, EIO,
			    "%s: raw message %lld: bad "
			    "row",
			    st->path, (long long)id);
			found = -1;
		} else if (enc != RAW_AS_IS) {
			found = (enc == RAW_DEFLATE
			                ? raw_inflate(blob, blen, (size_t)size,
			                      data_r, err)
			                : raw_unzstd(blob, blen, (size_t)size,
			                      data_r, err)) < 0
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
