/*
 * Enhanced mail system status codes (RFC 3463, the IANA registry of RFC
 * 5248) mapped to the fine reasons.  A "firm" code names the fault by
 * itself (x.1.1 no such mailbox, x.2.2 mailbox full); a loose one (x.0.0,
 * x.7.1 "delivery not authorized") says little, so the diagnostic text is
 * consulted first and the table's reason is only the fallback.
 * Receiver-specific codes (Microsoft's 5.7.509, ...) are not here: they
 * are rules in data/rules/, where users can add their own.
 */
#include <stdio.h>
#include <string.h>

#include "classify_int.h"

struct status_entry {
	const char *code; /* subject.detail */
	enum classify_reason reason;
	bool firm;
};

static const struct status_entry status_table[] = {
    {"0.0", CLASSIFY_R_UNDEFINED, false},
    /* X.1 addressing */
    {"1.0", CLASSIFY_R_USERUNKNOWN, false},
    {"1.1", CLASSIFY_R_USERUNKNOWN, true},  /* bad destination mailbox */
    {"1.2", CLASSIFY_R_HOSTUNKNOWN, true},  /* bad destination system */
    {"1.3", CLASSIFY_R_USERUNKNOWN, false}, /* bad mailbox syntax */
    {"1.4", CLASSIFY_R_FILTERED, false},    /* ambiguous mailbox */
    {"1.5", CLASSIFY_R_DELIVERED, false},
    {"1.6", CLASSIFY_R_HASMOVED, true},      /* mailbox has moved */
    {"1.7", CLASSIFY_R_REJECTED, true},      /* bad sender mailbox syntax */
    {"1.8", CLASSIFY_R_REJECTED, true},      /* bad sender system */
    {"1.9", CLASSIFY_R_SYSTEMERROR, false},  /* relayed to non-compliant */
    {"1.10", CLASSIFY_R_USERUNKNOWN, false}, /* null MX (RFC 7505) */
    /* X.2 mailbox */
    {"2.0", CLASSIFY_R_FILTERED, false},
    {"2.1", CLASSIFY_R_FILTERED, false}, /* mailbox disabled */
    {"2.2", CLASSIFY_R_MAILBOXFULL, true},
    {"2.3", CLASSIFY_R_EMAILTOOLARGE, true},
    {"2.4", CLASSIFY_R_FILTERED, false}, /* list expansion problem */
    /* X.3 mail system */
    {"3.0", CLASSIFY_R_SYSTEMERROR, false},
    {"3.1", CLASSIFY_R_SYSTEMFULL, true}, {"3.2", CLASSIFY_R_NOTACCEPT, false},
    {"3.3", CLASSIFY_R_SYSTEMERROR, false},
    {"3.4", CLASSIFY_R_EMAILTOOLARGE, true},
    {"3.5", CLASSIFY_R_SYSTEMERROR, false},
    /* X.4 network and routing */
    {"4.0", CLASSIFY_R_NETWORKERROR, false},
    {"4.1", CLASSIFY_R_EXPIRED, false},      /* no answer from host */
    {"4.2", CLASSIFY_R_NETWORKERROR, false}, /* bad connection */
    {"4.3", CLASSIFY_R_SYSTEMERROR, false},  /* directory server failure */
    {"4.4", CLASSIFY_R_HOSTUNKNOWN, false},  /* unable to route */
    {"4.5", CLASSIFY_R_SYSTEMFULL, false},   /* congestion */
    {"4.6", CLASSIFY_R_NETWORKERROR, true},  /* routing loop */
    {"4.7", CLASSIFY_R_EXPIRED, true},       /* delivery time expired */
    /* X.5 protocol */
    {"5.0", CLASSIFY_R_SYNTAXERROR, false},
    {"5.1", CLASSIFY_R_SYNTAXERROR, false},
    {"5.2", CLASSIFY_R_SYNTAXERROR, false},
    {"5.3", CLASSIFY_R_RATELIMITED, false}, /* too many recipients */
    {"5.4", CLASSIFY_R_SYSTEMERROR, false}, /* invalid arguments */
    {"5.5", CLASSIFY_R_SYSTEMERROR, false}, /* wrong protocol version */
    {"5.6", CLASSIFY_R_SYNTAXERROR, false},
    /* X.6 content */
    {"6.0", CLASSIFY_R_CONTENTERROR, false},
    {"6.1", CLASSIFY_R_CONTENTERROR, false},
    {"6.2", CLASSIFY_R_CONTENTERROR, false},
    {"6.3", CLASSIFY_R_CONTENTERROR, false},
    {"6.4", CLASSIFY_R_CONTENTERROR, false},
    {"6.5", CLASSIFY_R_CONTENTERROR, false},
    {"6.6", CLASSIFY_R_CONTENTERROR, false},
    {"6.7", CLASSIFY_R_CONTENTERROR, false},
    {"6.8", CLASSIFY_R_CONTENTERROR, false},
    {"6.9", CLASSIFY_R_CONTENTERROR, false},
    {"6.10", CLASSIFY_R_CONTENTERROR, false},
    /* X.7 security and policy */
    {"7.0", CLASSIFY_R_SECURITYERROR, false},
    {"7.1", CLASSIFY_R_SECURITYERROR, false}, /* delivery not authorized */
    {"7.2", CLASSIFY_R_SECURITYERROR, false},
    {"7.3", CLASSIFY_R_SECURITYERROR, false},
    {"7.4", CLASSIFY_R_SECURITYERROR, false},
    {"7.5", CLASSIFY_R_SECURITYERROR, false},
    {"7.6", CLASSIFY_R_SECURITYERROR, false},
    {"7.7", CLASSIFY_R_SECURITYERROR, false},
    {"7.8", CLASSIFY_R_SECURITYERROR, false},
    {"7.9", CLASSIFY_R_SECURITYERROR, false},
    {"7.10", CLASSIFY_R_SECURITYERROR, false},
    {"7.11", CLASSIFY_R_SECURITYERROR, false},
    {"7.12", CLASSIFY_R_SECURITYERROR, false},
    {"7.13", CLASSIFY_R_SUSPEND, true}, /* user account disabled */
    {"7.14", CLASSIFY_R_SECURITYERROR, false},
    {"7.15", CLASSIFY_R_SECURITYERROR, false}, /* priority too low */
    {"7.16", CLASSIFY_R_EMAILTOOLARGE, false}, /* too big for priority */
    {"7.17", CLASSIFY_R_HASMOVED, false},      /* mailbox owner changed */
    {"7.18", CLASSIFY_R_HASMOVED, false},      /* domain owner changed */
    {"7.19", CLASSIFY_R_SECURITYERROR, false}, /* RRVS not completed */
    {"7.20", CLASSIFY_R_AUTHFAILURE, false},   /* no passing DKIM */
    {"7.21", CLASSIFY_R_AUTHFAILURE, false},
    {"7.22", CLASSIFY_R_AUTHFAILURE, false},
    {"7.23", CLASSIFY_R_AUTHFAILURE, false}, /* SPF validation failed */
    {"7.24", CLASSIFY_R_AUTHFAILURE, false},
    {"7.25", CLASSIFY_R_REQUIREPTR, true},      /* reverse DNS failed */
    {"7.26", CLASSIFY_R_AUTHFAILURE, true},     /* multiple auth failures */
    {"7.27", CLASSIFY_R_NOTACCEPT, true},       /* sender has null MX */
    {"7.28", CLASSIFY_R_SPAMDETECTED, false},   /* mail flood */
    {"7.29", CLASSIFY_R_AUTHFAILURE, false},    /* ARC failure */
    {"7.30", CLASSIFY_R_FAILEDSTARTTLS, false}, /* REQUIRETLS */
};

bool
status_valid(const char *s)
{
	char tmp[16];

	return s != NULL && text_find_status(s, strlen(s), tmp) &&
	       strcmp(tmp, s) == 0;
}

bool
status_lookup(const char *status, struct status_info *info_r)
{
	const char *rest;
	size_t i;

	if (!status_valid(status))
		return false;
	if (status[0] == '2') {
		info_r->reason = CLASSIFY_R_DELIVERED;
		info_r->firm = true;
		info_r->vague = false;
		return true;
	}
	rest = status + 2;
	for (i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++) {
		if (strcmp(status_table[i].code, rest) == 0) {
			info_r->reason = status_table[i].reason;
			info_r->firm = status_table[i].firm;
			/* "Other or undefined" details, x.7.1 "delivery not
			 * authorized", which receivers use for everything, and
			 * x.4.1 "no answer from host", which Exchange Online
			 * also gives a recipient its directory refuses. */
			info_r->vague = strcmp(rest + 1, ".0") == 0 ||
			                strcmp(rest, "7.1") == 0 ||
			                strcmp(rest, "4.1") == 0;
			/* A transient "unable to route" is a DNS answer still
			 * being waited for; only a permanent one says the
			 * domain cannot be routed. */
			if (status[0] == '4' && strcmp(rest, "4.4") == 0)
				info_r->reason = CLASSIFY_R_NETWORKERROR;
			return true;
		}
	}
	/* Unregistered detail: fall back to the subject's X.0 meaning. */
	{
		char sub[8];
		const char *dot = strchr(rest, '.');

		if (dot == NULL || (size_t)(dot - rest) > 3)
			return false;
		(void)snprintf(
		    sub, sizeof(sub), "%.*s.0", (int)(dot - rest), rest);
		for (i = 0; i < sizeof(status_table) / sizeof(status_table[0]);
		     i++) {
			if (strcmp(status_table[i].code, sub) == 0) {
				info_r->reason = status_table[i].reason;
				info_r->firm = false;
				info_r->vague = true;
				return true;
			}
		}
	}
	return false;
}
