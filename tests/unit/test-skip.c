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

static Suite *
skip_suite(void)
{
	Suite *s = suite_create("skip");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_nets, 0, G_N_ELEMENTS(hosts));
	tcase_add_loop_test(tc, test_bad_nets, 0, G_N_ELEMENTS(bad));
	tcase_add_loop_test(tc, test_patterns, 0, G_N_ELEMENTS(addrs));
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(skip_suite)
