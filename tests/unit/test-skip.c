/*
 * test-skip.c - CIDR lists with exceptions and address patterns
 */
#include <string.h>

#include <glib.h>

#include "skip.h"
#include "unit.h"

static const char *const nets[] = {
    "!10.1.2.3",     "10.0.0.0/8", "192.0.2.0/24", "!2001:db8::5",
    "2001:db8::/32", "127.0.0.1",  "::1",
};

static const struct {
	const char *addr;
	int listed;
} hosts[] = {
    {"10.9.8.7", 1},
    {"10.1.2.3", 0},
    {"11.0.0.1", 0},
    {"192.0.2.255", 1},
    {"192.0.3.1", 0},
    {"127.0.0.1", 1},
    {"127.0.0.2", 0},
    {"2001:db8::1", 1},
    {"2001:db8::5", 0},
    {"IPv6:2001:db8::1", 1},
    {"2001:db9::1", 0},
    {"::1", 1},
    {"::2", 0},
    {"not an address", 0},
    {"", 0},
};

START_TEST(test_nets)
{
	struct skip_nets n;
	char *error = NULL;

	ck_assert_int_eq(skip_nets_parse(nets, G_N_ELEMENTS(nets), &n, &error),
			 0);
	ck_assert_int_eq(skip_nets_match(&n, hosts[_i].addr), hosts[_i].listed);
	skip_nets_clear(&n);
}
END_TEST

static const char *const bad[] = {
    "10.0.0.0/33", "10.0.0/8", "host.example", "::1/129", "10.0.0.0/", "",
};

START_TEST(test_bad_nets)
{
	struct skip_nets n;
	char *error = NULL;

	ck_assert_int_eq(skip_nets_parse(&bad[_i], 1, &n, &error), -1);
	ck_assert_ptr_nonnull(error);
	g_free(error);
	skip_nets_clear(&n);
}
END_TEST

static const char *const patterns[] = {
    "!ceo@example.com",
    "*@example.com",
    "postmaster@*",
    "*-bounces@*",
};

static const struct {
	const char *addr;
	int match;
} addrs[] = {
    {"staff@example.com", 1},
    {"Staff@EXAMPLE.com", 1},
    {"ceo@example.com", 0},
    {"postmaster@other.example", 1},
    {"list-bounces@x.example", 1},
    {"ann@customer.example", 0},
    {"", 0},
};

START_TEST(test_patterns)
{
	ck_assert_int_eq(skip_patterns_match(patterns, G_N_ELEMENTS(patterns),
					     addrs[_i].addr),
			 addrs[_i].match);
}
END_TEST

/* SMTPUTF8 addresses and patterns: folded like the sender key (addr.h),
 * in any case, precomposed or decomposed; bracket expressions, escapes
 * and the ASCII rules above work as before. */
static const char *const intl_patterns[] = {
    "!support@\xc3\xa9xample.fr",
    "*@\xc3\xa9xample.fr",
    "M\xc3\x9cLLER@*",
    "*@b\xc3\xbc"
    "cher.example",
    "[a-c]ob@*.de",
    "\\*star@*",
    "[[:digit:]]x\xc3\xa9@*",
};

static const struct {
	const char *addr;
	int match;
} intl_addrs[] = {
    {"bob@\xc3\xa9xample.fr", 1},
    {"BOB@\xc3\x89XAMPLE.FR", 1},
    {"bob@e\xcc\x81xample.fr", 1},
    {"SUPPORT@\xc3\x89XAMPLE.FR", 0},
    {"support@example.fr", 0},
    {"m\xc3\xbcller@customer.example", 1},
    {"M\xc3\x9cLLER@customer.example", 1},
    {"mu\xcc\x88ller@customer.example", 1},
    {"mueller@customer.example", 0},
    {"ann@B\xc3\x9c"
     "CHER.EXAMPLE",
     1},
    {"ann@bucher.example", 0},
    {"Cob@j\xc3\xb6rg.de", 1},
    {"dob@j\xc3\xb6rg.de", 0},
    {"*STAR@\xc3\xa9.fr", 1},
    {"xstar@\xc3\xa9.fr", 0},
    {"7X\xc3\x89@x.example", 1},
    {"j\xffrg@\xc3\xa9xample.fr", 1},
};

START_TEST(test_intl_patterns)
{
	ck_assert_msg(
	    skip_patterns_match(intl_patterns, G_N_ELEMENTS(intl_patterns),
				intl_addrs[_i].addr) == intl_addrs[_i].match,
	    "%d: %s", _i, intl_addrs[_i].addr);
}
END_TEST

static Suite *
skip_suite(void)
{
	Suite *s = suite_create("skip");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_nets, 0, G_N_ELEMENTS(hosts));
	tcase_add_loop_test(tc, test_bad_nets, 0, G_N_ELEMENTS(bad));
	tcase_add_loop_test(tc, test_patterns, 0, G_N_ELEMENTS(addrs));
	tcase_add_loop_test(tc, test_intl_patterns, 0,
			    G_N_ELEMENTS(intl_addrs));
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(skip_suite)
