/*
 * store/dedupe.c: the dedupe key ignores leading trace headers (an mbox
 * "From " line, Received, X-Received, Return-Path, Delivered-To,
 * X-Original-To, folded or not, in any case), CRLF vs LF and the line
 * ends after the last line; anything else changes it, including a trace
 * header below the first other one.
 */
#include "store/store_int.h"
#include "test.h"

static void
key(const char *m, unsigned char k[STORE_KEY_LEN])
{
	dedupe_key((const unsigned char *)m, strlen(m), k);
}

int
main(void)
{
	static const char base[] = "From: a@example.com\nSubject: x\n\nbody\n";
	/* clang-format off */
	static const struct {
		const char *msg;
		int same; /* same key as base */
	} cases[] = {
		{"From: a@example.com\nSubject: x\n\nbody\n", 1},
		{"Received: from mx by mx2; Sat, 1 Jun 2024\n"
		    "From: a@example.com\nSubject: x\n\nbody\n", 1},
		{"Received: from mx\n\tby mx2 with ESMTP;\n Sat, 1 Jun 2024\n"
		    "received: by mx3\n"
		    "From: a@example.com\nSubject: x\n\nbody\n", 1},
		{"Return-Path: <>\nDelivered-To: bounces@example.com\n"
		    "X-Original-To: bounces@example.com\nX-Received: by 10.0.0.1\n"
		    "From: a@example.com\nSubject: x\n\nbody\n", 1},
		{"From MAILER-DAEMON Sat Jun  1 10:00:00 2024\n"
		    "Received: by mx\n"
		    "From: a@example.com\nSubject: x\n\nbody\n", 1},
		{"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n", 1},
		{"Received: by mx\r\nFrom: a@example.com\r\nSubject: x\r\n\r\n"
		    "body\r\n", 1},
		{"From: a@example.com\nSubject: y\n\nbody\n", 0},
		{"From: a@example.com\nSubject: x\n\nbody!\n", 0},
		{"From: a@example.com\nReceived: by mx\nSubject: x\n\nbody\n", 0},
		{"X-Other: 1\nFrom: a@example.com\nSubject: x\n\nbody\n", 0},
		{"From: a@example.com\nSubject: x\n\nbo\rdy\n", 0},
		{"From: a@example.com\nSubject: x\n\nbody\n\n", 1},
		{"From: a@example.com\nSubject: x\n\nbody", 1},
		{"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n\r\n", 1},
		{"From: a@example.com\nSubject: x\n\n\nbody\n", 0},
	};
	/* clang-format on */
	unsigned char want[STORE_KEY_LEN], got[STORE_KEY_LEN];
	size_t i;

	key(base, want);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		key(cases[i].msg, got);
		test_assert_idx(
		    (memcmp(want, got, STORE_KEY_LEN) == 0) == cases[i].same,
		    i);
	}
	/* Degenerate input: only trace headers, empty, no newline. */
	key("", got);
	key("Received: by mx\n", got);
	key("Received: by mx", got);
	key("From: x", got);
	dedupe_key(NULL, 0, got);
	return test_exit();
}
