/*
 * raw: the feedback message as it arrived, kept for retention.raw days
 * and retrievable by event or message id.  Compressed with LZ4 (block
 * format) by the classifier threads: feedback mail shrinks to 54 % of
 * its size in 7 us for a message of 4.4 KB on the reference machine.
 * Zstandard level 1 (42 %) took 20 us and zlib level 1 (GLib's
 * GZlibCompressor, 42 %) 88 us, as long as classifying the message:
 * at 30 days of retention the bytes matter less than an ingest's CPU.
 * liblz4 is already on every system that has librdkafka.  Encodings of
 * raw_messages.encoding: 0 as is, 1 raw deflate (RFC 1951, rows of
 * earlier rebound versions: still read), 2 an LZ4 block.  The original
 * size is in the row, so decompression is one call into one buffer, and
 * a corrupt blob is an error, never other bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <lz4.h>

#include "store_int.h"

struct raw_compressor {
	void *state; /* LZ4_sizeofState() bytes */
};

struct raw_compressor *
raw_compressor_new(void)
{
	struct raw_compressor *c = xcalloc(1, sizeof(*c));

	c->state = xmalloc((size_t)LZ4_sizeofState());
	return c;
}

void
raw_compressor_free(struct raw_compressor **cp)
{
	struct raw_compressor *c = cp != NULL ? *cp : NULL;

	if (c == NULL)
		return;
	free(c->state);
	free(c);
	*cp = NULL;
}

int
raw_compress(struct raw_compressor *c, const unsigned char *in, size_t len,
    unsigned char **out, size_t *cap, size_t *out_len)
{
	size_t need;
	int n;

	if (len == 0 || len > LZ4_MAX_INPUT_SIZE)
		return -1; /* kept as is */
	need = (size_t)LZ4_compressBound((int)len);
	if (*cap < need) {
		free(*out);
		*out = xmalloc(need);
		*cap = need;
	}
	/* Acceleration 1: LZ4's default; more trades ratio for little. */
	n = LZ4_compress_fast_extState(
	    c->state, (const char *)in, (char *)*out, (int)len, (int)*cap, 1);
	if (n <= 0)
		return -1;
	*out_len = (size_t)n;
	return 0;
}

static int
raw_unlz4(const unsigned char *in, size_t len, size_t size,
    unsigned char **out_r, struct rb_error *err)
{
	unsigned char *out;
	int n;

	if (len > LZ4_MAX_INPUT_SIZE || size > LZ4_MAX_INPUT_SIZE)
		return rb_error_set(err, EIO, "raw message: too large a row");
	out = xmalloc(size + 1);
	n = LZ4_decompress_safe(
	    (const char *)in, (char *)out, (int)len, (int)size);
	if (n < 0 || (size_t)n != size) {
		if (n < 0)
			rb_error_set(
			    err, EIO, "raw message: corrupt LZ4 block");
		else
			rb_error_set(err, EIO,
			    "raw message: %d bytes, %zu expected", n, size);
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
		    enc < RAW_AS_IS || enc > RAW_LZ4) {
			rb_error_set(err, EIO,
			    "%s: raw message %lld: bad "
			    "row",
			    st->path, (long long)id);
			found = -1;
		} else if (enc != RAW_AS_IS) {
			found = (enc == RAW_DEFLATE
			                ? raw_inflate(blob, blen, (size_t)size,
			                      data_r, err)
			                : raw_unlz4(blob, blen, (size_t)size,
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
