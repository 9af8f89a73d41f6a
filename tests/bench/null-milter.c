/*
 * null-milter.c - the lean baseline for tests/bench/postfix.sh
 *
 * A libmilter program that does the least a useful milter can: it
 * negotiates only end of message (SMFIP_NO* for every other step, with
 * the no-reply flags SMFIP_NR_* as well in case the MTA sends a step
 * anyway, and SMFIP_SKIP), and at end of message adds one header.  What
 * triage-milter costs beyond this is the price of triage itself.
 *
 * With --body it also takes the headers and the body, as triage-milter
 * does (no reply to either), and drops them: what receiving a message's
 * content costs the MTA and the milter, before any analysis.
 *
 * Usage: null-milter [--body] SOCKET   (unix:/path or inet:port@host)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libmilter/mfapi.h>

#ifndef SMFIP_NR_CONN
#error "libmilter without protocol negotiation (SMFI_VERSION < 2)"
#endif

static int want_body; /* --body */
static char hdr_name[] = "X-Null-Milter";
static char hdr_value[] = "seen";

static sfsistat
null_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
	       unsigned long f2, unsigned long f3, unsigned long *pf0,
	       unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	unsigned long steps =
	    SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT |
	    SMFIP_NOBODY | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOUNKNOWN |
	    SMFIP_NODATA | SMFIP_SKIP | SMFIP_NR_CONN | SMFIP_NR_HELO |
	    SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_UNKN |
	    SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_NR_HDR;

	(void)ctx;
	(void)f2;
	(void)f3;
	if (want_body)
		steps &= ~(unsigned long)(SMFIP_NOHDRS | SMFIP_NOEOH |
					  SMFIP_NOBODY);
	if (!(f0 & SMFIF_ADDHDRS))
		return SMFIS_REJECT;
	*pf0 = SMFIF_ADDHDRS;
	*pf1 = f1 & steps;
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

static sfsistat
null_eom(SMFICTX *ctx)
{
	(void)smfi_addheader(ctx, hdr_name, hdr_value);
	return SMFIS_CONTINUE;
}

static sfsistat
null_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx;
	(void)name;
	(void)value;
	return SMFIS_CONTINUE;
}

static sfsistat
null_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void)ctx;
	(void)chunk;
	(void)len;
	return SMFIS_CONTINUE;
}

static char null_name[] = "null-milter";

static struct smfiDesc null_desc = {
    .xxfi_name = null_name,
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS,
    .xxfi_header = null_header,
    .xxfi_body = null_body,
    .xxfi_eom = null_eom,
    .xxfi_negotiate = null_negotiate,
};

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--body") == 0) {
		want_body = 1;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: null-milter [--body] "
				"unix:/path|inet:port@host\n");
		return 2;
	}
	if (smfi_register(null_desc) != MI_SUCCESS ||
	    smfi_setconn(argv[1]) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "null-milter: cannot open %s\n", argv[1]);
		return 1;
	}
	if (strncmp(argv[1], "unix:", 5) == 0)
		(void)chmod(argv[1] + 5, 0666);
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
