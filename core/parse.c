/*
 * Bounded number parsing (Dovecot strnum.h): whole string or nothing.
 * atoi() and friends are banned because they accept garbage silently.
 */
#include "core.h"

int
parse_u64(const char *s, uint64_t *v_r)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*v_r = v;
	return 0;
}
