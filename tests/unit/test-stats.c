/*
 * test-stats.c - the counters, their Prometheus text and the listener
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <glib.h>

#include "stats.h"
#include "unit.h"

#define N_THREADS 8
#define N_ROUNDS 20000

/* value - the number on the line "sample value", or -1 if absent */
static long long
value(const char *text, const char *sample)
{
	size_t n = strlen(sample);

	for (const char *p = text; p != NULL && *p != '\0';) {
		if (strncmp(p, sample, n) == 0 && p[n] == ' ')
			return g_ascii_strtoll(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return -1;
}

struct worker {
	struct stats *s;
	int long_idx;
};

/* count_loop - what one milter thread does for N_ROUNDS messages */
static void *
count_loop(void *arg)
{
	const struct worker *w = arg;

	for (int i = 0; i < N_ROUNDS; i++) {
		stats_message(w->s);
		stats_flag(w->s, "abusive");
		stats_flag_at(w->s, w->long_idx);
		stats_route(w->s, "legal");
		stats_route(w->s, "late");
		stats_ack_sent(w->s);
		stats_ack_suppressed(w->s, "duplicate");
		stats_ack_suppressed(w->s, "bogus");
		stats_error(w->s, STATS_ERR_ACCEPTED);
		stats_scan_time(w->s, i % 4 == 0 ? 1500 : 200);
	}
	return NULL;
}

/* register_loop - a reload adding names while the workers count */
static void *
register_loop(void *arg)
{
	struct stats *s = arg;

	for (int i = 0; i < 100; i++) {
		char name[32];

		g_snprintf(name, sizeof(name), "route-%d", i);
		ck_assert_int_gt(stats_add_route(s, name), 0);
		if (i == 50)
			ck_assert_int_gt(stats_add_route(s, "late"), 0);
		(void)stats_add_flag(s, "abusive");
	}
	return NULL;
}

START_TEST(test_threads)
{
	struct stats *s = stats_new("t");
	struct worker w = {s, stats_add_flag(s, "long")};
	pthread_t th[N_THREADS], reg;
	const long long total = (long long)N_THREADS * N_ROUNDS;
	char *text;

	ck_assert_int_ge(stats_add_flag(s, "abusive"), 0);
	ck_assert_int_ge(stats_add_route(s, "legal"), 0);
	for (int i = 0; i < N_THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, count_loop, &w),
				 0);
	ck_assert_int_eq(pthread_create(&reg, NULL, register_loop, s), 0);
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_join(reg, NULL);
	text = stats_render(s);
	ck_assert_int_eq(value(text, "triage_messages_total"), total);
	ck_assert_int_eq(value(text, "triage_flags_total{flag=\"abusive\"}"),
			 total);
	ck_assert_int_eq(value(text, "triage_flags_total{flag=\"long\"}"),
			 total);
	ck_assert_int_eq(value(text, "triage_flags_total{flag=\"other\"}"), 0);
	ck_assert_int_eq(value(text, "triage_routes_total{route=\"legal\"}"),
			 total);
	/* "late" appeared mid-run: before, its messages went to other */
	ck_assert_int_eq(
	    value(text, "triage_routes_total{route=\"late\"}") +
		value(text, "triage_routes_total{route=\"other\"}"),
	    total);
	ck_assert_int_eq(value(text, "triage_routes_total{route=\"route-99\"}"),
			 0);
	ck_assert_int_eq(value(text, "triage_acks_total{decision=\"sent\"}"),
			 total);
	ck_assert_int_eq(
	    value(text, "triage_acks_total{decision=\"suppressed\"}"),
	    2 * total);
	ck_assert_int_eq(
	    value(text, "triage_acks_suppressed_total{reason=\"duplicate\"}"),
	    total);
	ck_assert_int_eq(
	    value(text, "triage_acks_suppressed_total{reason=\"other\"}"),
	    total);
	ck_assert_int_eq(
	    value(text, "triage_errors_total{kind=\"accepted-unchanged\"}"),
	    total);
	ck_assert_int_eq(value(text, "triage_scan_milliseconds_count"), total);
	ck_assert_int_eq(
	    value(text, "triage_scan_milliseconds_bucket{le=\"1\"}"),
	    total / 4 * 3);
	ck_assert_int_eq(
	    value(text, "triage_scan_milliseconds_bucket{le=\"2\"}"), total);
	/* 1/4 at 1.5 ms, 3/4 at 0.2 ms */
	ck_assert_int_eq(value(text, "triage_scan_milliseconds_sum"),
			 (total / 4 * 1500 + total / 4 * 3 * 200) / 1000);
	g_free(text);
	s = stats_free(s);
	ck_assert_ptr_null(s);
}
END_TEST

/* The whole exposition for a small scenario; the start time is checked
 * apart, the rest line by line. */
static const char expected[] =
    "# HELP triage_messages_total Messages seen (analysed, skipped or "
    "failed).\n"
    "# TYPE triage_messages_total counter\n"
    "triage_messages_total 3\n"
    "# HELP triage_flags_total Messages by flag set in X-Triage-Flags.\n"
    "# TYPE triage_flags_total counter\n"
    "triage_flags_total{flag=\"long\"} 1\n"
    "triage_flags_total{flag=\"truncated\"} 0\n"
    "triage_flags_total{flag=\"frequent\"} 0\n"
    "triage_flags_total{flag=\"skipped\"} 0\n"
    "triage_flags_total{flag=\"abusive\"} 2\n"
    "triage_flags_total{flag=\"legal-threat\"} 0\n"
    "triage_flags_total{flag=\"other\"} 1\n"
    "# HELP triage_routes_total Messages by route taken.\n"
    "# TYPE triage_routes_total counter\n"
    "triage_routes_total{route=\"legal\"} 1\n"
    "triage_routes_total{route=\"abuse\"} 0\n"
    "triage_routes_total{route=\"other\"} 0\n"
    "# HELP triage_acks_total Acknowledgment decisions: sent (handed to "
    "the sender queue) or suppressed.\n"
    "# TYPE triage_acks_total counter\n"
    "triage_acks_total{decision=\"sent\"} 1\n"
    "triage_acks_total{decision=\"suppressed\"} 2\n"
    "# HELP triage_acks_suppressed_total Acknowledgments not sent, by "
    "reason.\n"
    "# TYPE triage_acks_suppressed_total counter\n"
    "triage_acks_suppressed_total{reason=\"off\"} 0\n"
    "triage_acks_suppressed_total{reason=\"not-support-address\"} 0\n"
    "triage_acks_suppressed_total{reason=\"null-sender\"} 0\n"
    "triage_acks_suppressed_total{reason=\"robot-sender\"} 0\n"
    "triage_acks_suppressed_total{reason=\"own-address\"} 0\n"
    "triage_acks_suppressed_total{reason=\"no-message\"} 0\n"
    "triage_acks_suppressed_total{reason=\"auto-submitted\"} 0\n"
    "triage_acks_suppressed_total{reason=\"list\"} 0\n"
    "triage_acks_suppressed_total{reason=\"precedence\"} 0\n"
    "triage_acks_suppressed_total{reason=\"auto-response-suppress\"} 0\n"
    "triage_acks_suppressed_total{reason=\"report\"} 0\n"
    "triage_acks_suppressed_total{reason=\"spam\"} 0\n"
    "triage_acks_suppressed_total{reason=\"no-template\"} 0\n"
    "triage_acks_suppressed_total{reason=\"auth\"} 0\n"
    "triage_acks_suppressed_total{reason=\"duplicate\"} 1\n"
    "triage_acks_suppressed_total{reason=\"store-unavailable\"} 0\n"
    "triage_acks_suppressed_total{reason=\"rate-limit\"} 0\n"
    "triage_acks_suppressed_total{reason=\"compose-failed\"} 0\n"
    "triage_acks_suppressed_total{reason=\"queue-full\"} 0\n"
    "triage_acks_suppressed_total{reason=\"no-sender\"} 0\n"
    "triage_acks_suppressed_total{reason=\"other\"} 1\n"
    "# HELP triage_errors_total Messages left to the failure policy "
    "(on_error), by outcome.\n"
    "# TYPE triage_errors_total counter\n"
    "triage_errors_total{kind=\"accepted-unchanged\"} 0\n"
    "triage_errors_total{kind=\"tempfailed\"} 1\n"
    "# HELP triage_scan_milliseconds Time spent analysing one message.\n"
    "# TYPE triage_scan_milliseconds histogram\n"
    "triage_scan_milliseconds_bucket{le=\"1\"} 1\n"
    "triage_scan_milliseconds_bucket{le=\"2\"} 1\n"
    "triage_scan_milliseconds_bucket{le=\"5\"} 2\n"
    "triage_scan_milliseconds_bucket{le=\"10\"} 2\n"
    "triage_scan_milliseconds_bucket{le=\"25\"} 2\n"
    "triage_scan_milliseconds_bucket{le=\"50\"} 2\n"
    "triage_scan_milliseconds_bucket{le=\"100\"} 2\n"
    "triage_scan_milliseconds_bucket{le=\"250\"} 2\n"
    "triage_scan_milliseconds_bucket{le=\"500\"} 2\n"
    "triage_scan_milliseconds_bucket{le=\"1000\"} 2\n"
    "triage_scan_milliseconds_bucket{le=\"2500\"} 2\n"
    "triage_scan_milliseconds_bucket{le=\"5000\"} 2\n"
    "triage_scan_milliseconds_bucket{le=\"+Inf\"} 3\n"
    "triage_scan_milliseconds_sum 7003.500\n"
    "triage_scan_milliseconds_count 3\n"
    "# HELP triage_start_time_seconds Start time of the process since the "
    "Unix epoch.\n"
    "# TYPE triage_start_time_seconds gauge\n"
    "triage_start_time_seconds START\n"
    "# HELP triage_build_info The version running.\n"
    "# TYPE triage_build_info gauge\n"
    "triage_build_info{version=\"triage-milter 0.1.0\"} 1\n";

START_TEST(test_render)
{
	gint64 before = g_get_real_time() / G_USEC_PER_SEC;
	struct stats *s = stats_new("triage-milter 0.1.0");
	gint64 after = g_get_real_time() / G_USEC_PER_SEC;
	char **got, **want;
	char *text;
	guint i;

	ck_assert_int_ge(stats_add_flag(s, "abusive"), 0);
	ck_assert_int_ge(stats_add_flag(s, "legal-threat"), 0);
	ck_assert_int_ge(stats_add_route(s, "legal"), 0);
	ck_assert_int_ge(stats_add_route(s, "abuse"), 0);
	for (i = 0; i < 3; i++)
		stats_message(s);
	stats_flag(s, "abusive");
	stats_flag(s, "abusive");
	stats_flag(s, "long");
	stats_flag(s, "nonesuch");
	stats_route(s, "legal");
	stats_ack_sent(s);
	stats_ack_suppressed(s, "duplicate");
	stats_ack_suppressed(s, "mystery");
	stats_error(s, STATS_ERR_TEMPFAILED);
	stats_scan_time(s, 500);
	stats_scan_time(s, 3000);
	stats_scan_time(s, 7000000);
	text = stats_render(s);
	got = g_strsplit(text, "\n", -1);
	want = g_strsplit(expected, "\n", -1);
	for (i = 0; got[i] != NULL && want[i] != NULL; i++) {
		if (strcmp(want[i], "triage_start_time_seconds START") == 0) {
			long long t =
			    value(got[i], "triage_start_time_seconds");

			ck_assert_int_ge(t, before);
			ck_assert_int_le(t, after);
			continue;
		}
		ck_assert_str_eq(got[i], want[i]);
	}
	ck_assert_ptr_null(got[i]);
	ck_assert_ptr_null(want[i]);
	g_strfreev(got);
	g_strfreev(want);
	g_free(text);
	stats_free(s);
}
END_TEST

START_TEST(test_histogram)
{
	struct stats *s = stats_new("t");
	/* each value sits on a boundary or just past it */
	const uint64_t usec[] = {0, 1000, 1001, 2000, 5000000, 5000001};
	const struct {
		const char *le;
		long long want;
	} b[] = {{"1", 2},    {"2", 4},    {"5", 4},   {"10", 4},  {"25", 4},
		 {"50", 4},   {"100", 4},  {"250", 4}, {"500", 4}, {"1000", 4},
		 {"2500", 4}, {"5000", 5}, {"+Inf", 6}};
	long long prev = 0;
	char *text;

	for (size_t i = 0; i < G_N_ELEMENTS(usec); i++)
		stats_scan_time(s, usec[i]);
	text = stats_render(s);
	for (size_t i = 0; i < G_N_ELEMENTS(b); i++) {
		char *name = g_strdup_printf(
		    "triage_scan_milliseconds_bucket{le=\"%s\"}", b[i].le);
		long long v = value(text, name);

		ck_assert_msg(v == b[i].want, "%s: %lld, want %lld", name, v,
			      b[i].want);
		ck_assert_int_ge(v, prev);
		prev = v;
		g_free(name);
	}
	ck_assert_int_eq(value(text, "triage_scan_milliseconds_count"), 6);
	ck_assert_ptr_nonnull(strstr(text, "\ntriage_scan_milliseconds_sum "
					   "10004.002\n"));
	g_free(text);
	stats_free(s);
}
END_TEST

START_TEST(test_escape)
{
	struct stats *s = stats_new("v\"1\\2\n");
	char *text;

	ck_assert_int_gt(stats_add_flag(s, "a\"b\\c\nd"), 0);
	ck_assert_int_gt(stats_add_route(s, "caf\xc3\xa9"), 0);
	ck_assert_int_gt(stats_add_route(s, "bad\xff"), 0);
	stats_flag(s, "a\"b\\c\nd");
	stats_route(s, "bad\xff");
	text = stats_render(s);
	ck_assert_int_eq(
	    value(text, "triage_flags_total{flag=\"a\\\"b\\\\c\\nd\"}"), 1);
	ck_assert_int_eq(
	    value(text, "triage_routes_total{route=\"caf\xc3\xa9\"}"), 0);
	/* invalid UTF-8 becomes U+FFFD: the format is UTF-8 */
	ck_assert_int_eq(
	    value(text, "triage_routes_total{route=\"bad\xef\xbf\xbd\"}"), 1);
	ck_assert_int_eq(
	    value(text, "triage_build_info{version=\"v\\\"1\\\\2\\n\"}"), 1);
	ck_assert_ptr_null(strstr(text, "\xff"));
	g_free(text);
	stats_free(s);
}
END_TEST

START_TEST(test_register)
{
	struct stats *s = stats_new(NULL);
	char *long_name = g_strnfill(STATS_MAX_NAME_LEN + 1, 'x');
	char *text;
	int a, full = -1;

	a = stats_add_flag(s, "abusive");
	ck_assert_int_gt(a, 0);
	ck_assert_int_eq(stats_add_flag(s, "abusive"), a);
	ck_assert_int_eq(stats_add_flag(s, "long"), stats_add_flag(s, "long"));
	ck_assert_int_eq(stats_add_flag(s, STATS_OTHER), 0);
	ck_assert_int_eq(stats_add_flag(s, ""), -1);
	ck_assert_int_eq(stats_add_flag(s, NULL), -1);
	ck_assert_int_eq(stats_add_flag(s, long_name), -1);
	ck_assert_int_eq(stats_add_flag(NULL, "x"), -1);
	stats_flag_at(s, a);
	stats_flag_at(s, 9999);
	stats_flag_at(s, -1);
	stats_flag(s, NULL);
	/* a reload registers the same names again: counts stay */
	ck_assert_int_eq(stats_add_flag(s, "abusive"), a);
	stats_flag(s, "abusive");
	for (int i = 0; i < STATS_MAX_NAMES + 5; i++) {
		char name[32];

		g_snprintf(name, sizeof(name), "r%d", i);
		if (stats_add_route(s, name) < 0 && full < 0)
			full = i;
	}
	/* slot 0 is other: STATS_MAX_NAMES - 1 names fit */
	ck_assert_int_eq(full, STATS_MAX_NAMES - 1);
	stats_route(s, "r0");
	stats_route(s, "r200");
	text = stats_render(s);
	ck_assert_int_eq(value(text, "triage_flags_total{flag=\"abusive\"}"),
			 2);
	ck_assert_int_eq(value(text, "triage_flags_total{flag=\"other\"}"), 3);
	ck_assert_int_eq(value(text, "triage_routes_total{route=\"r0\"}"), 1);
	ck_assert_int_eq(value(text, "triage_routes_total{route=\"other\"}"),
			 1);
	ck_assert_int_eq(value(text, "triage_routes_total{route=\"r200\"}"),
			 -1);
	ck_assert_int_eq(value(text, "triage_build_info{version=\"unknown\"}"),
			 1);
	g_free(text);
	g_free(long_name);
	stats_free(s);
	/* every counting call is a no-op without stats */
	stats_message(NULL);
	stats_flag(NULL, "x");
	stats_flag_at(NULL, 0);
	stats_route(NULL, "x");
	stats_route_at(NULL, 0);
	stats_ack_sent(NULL);
	stats_ack_suppressed(NULL, "x");
	stats_error(NULL, STATS_ERR_ACCEPTED);
	stats_scan_time(NULL, 1);
	ck_assert_ptr_null(stats_free(NULL));
}
END_TEST

static const struct {
	const char *spec;
	int want; /* 1 loopback, 0 elsewhere, -1 refused */
} specs[] = {
    {"127.0.0.1:9894", 1},
    {"127.1.2.3:1", 1},
    {"[::1]:9894", 1},
    {"[::ffff:127.0.0.1]:9894", 1},
    {"9894", 1},
    {":9894", 1},
    {"localhost:9894", 1},
    {"127.0.0.1:0", 1},
    {"0.0.0.0:9894", 0},
    {"192.0.2.1:9894", 0},
    {"[::]:9894", 0},
    {"[2001:db8::1]:9894", 0},
    {"", -1},
    {NULL, -1},
    {"example.com:9894", -1},
    {"127.0.0.1", -1},
    {"127.0.0.1:", -1},
    {"127.0.0.1:65536", -1},
    {"127.0.0.1:-1", -1},
    {"127.0.0.1:+1", -1},
    {"127.0.0.1:99999999999999999999999", -1},
    {"127.0.0.1:80x", -1},
    {"::1:9894", -1},
    {"[::1]9894", -1},
    {"[::1:9894", -1},
    {"[127.0.0.1]:9894", -1},
};

START_TEST(test_listen_check)
{
	char *error = NULL;
	int got = stats_listen_check(specs[_i].spec, &error);

	ck_assert_msg(got == specs[_i].want, "\"%s\": %d, want %d",
		      specs[_i].spec ? specs[_i].spec : "(null)", got,
		      specs[_i].want);
	if (got < 0) {
		ck_assert_ptr_nonnull(error);
		ck_assert_ptr_nonnull(strstr(error, "stats_listen"));
	} else {
		/* untouched on success */
		ck_assert_ptr_null(error);
	}
	g_free(error);
}
END_TEST

/* http - send a raw request to 127.0.0.1/::1 port, the whole answer */
static char *
http(int family, int port, const char *request)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	struct timeval tv = {10, 0};
	GString *out = g_string_new(NULL);
	char buf[4096];
	ssize_t n;
	int fd = socket(family, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	ck_assert_int_eq(
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	ck_assert_msg(connect(fd, (struct sockaddr *)&ss, len) == 0,
		      "connect: %s", g_strerror(errno));
	ck_assert_int_eq(write(fd, request, strlen(request)),
			 (ssize_t)strlen(request));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		g_string_append_len(out, buf, n);
	ck_assert_int_eq(n, 0);
	close(fd);
	return g_string_free(out, FALSE);
}

/* open_fds - how many descriptors this process holds */
static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	const struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A bare port is loopback: the start log names the address bound
 * (stats_listen_address()), not the port alone. */
START_TEST(test_bare_port_address)
{
	struct stats *s = stats_new("triage-milter 0.1.0");
	struct stats_server *srv;
	char *error = NULL, *want;

	srv = stats_listen_start(s, "0", &error);
	ck_assert_msg(srv != NULL, "%s", error);
	want = g_strdup_printf("127.0.0.1:%d", stats_listen_port(srv));
	ck_assert_str_eq(stats_listen_address(srv), want);
	g_free(want);
	stats_listen_stop(srv);
	stats_free(s);
}
END_TEST

START_TEST(test_http)
{
	struct stats *s = stats_new("triage-milter 0.1.0");
	struct stats_server *srv, *again;
	char *error = NULL, *spec, *r;
	int fds = open_fds(), port;

	srv = stats_listen_start(s, "127.0.0.1:0", &error);
	ck_assert_msg(srv != NULL, "%s", error);
	ck_assert_ptr_null(error);
	port = stats_listen_port(srv);
	ck_assert_int_gt(port, 0);
	{
		char *want = g_strdup_printf("127.0.0.1:%d", port);

		ck_assert_str_eq(stats_listen_address(srv), want);
		g_free(want);
	}
	stats_message(s);

	r = http(AF_INET, port, "GET /metrics HTTP/1.0\r\n\r\n");
	ck_assert_msg(g_str_has_prefix(r, "HTTP/1.0 200") ||
			  g_str_has_prefix(r, "HTTP/1.1 200"),
		      "%s", r);
	ck_assert_ptr_nonnull(
	    strcasestr(r, "\r\nContent-Type: text/plain; version=0.0.4"));
	ck_assert_ptr_nonnull(
	    strstr(r, "\r\n\r\n# HELP triage_messages_total"));
	ck_assert_ptr_nonnull(strstr(r, "\ntriage_messages_total 1\n"));
	g_free(r);

	r = http(AF_INET, port,
		 "GET /metrics?x=1 HTTP/1.1\r\nHost: t\r\n"
		 "Connection: close\r\n\r\n");
	ck_assert_msg(g_str_has_prefix(r, "HTTP/1.1 200"), "%s", r);
	g_free(r);

	r = http(AF_INET, port, "GET / HTTP/1.0\r\n\r\n");
	ck_assert_msg(strstr(r, " 404 ") != NULL, "%s", r);
	ck_assert_ptr_null(strstr(r, "triage_messages_total"));
	g_free(r);

	r = http(AF_INET, port, "GET /metricsx HTTP/1.0\r\n\r\n");
	ck_assert_msg(strstr(r, " 404 ") != NULL, "%s", r);
	g_free(r);

	r = http(AF_INET, port,
		 "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
	ck_assert_msg(strstr(r, " 405 ") != NULL, "%s", r);
	ck_assert_ptr_nonnull(strcasestr(r, "\r\nAllow: GET, HEAD\r\n"));
	g_free(r);

	r = http(AF_INET, port, "HEAD /metrics HTTP/1.0\r\n\r\n");
	ck_assert_msg(strstr(r, " 200 ") != NULL, "%s", r);
	ck_assert_ptr_null(strstr(r, "triage_messages_total"));
	g_free(r);

	/* the port is taken: an error naming why, nothing returned */
	spec = g_strdup_printf("127.0.0.1:%d", port);
	again = stats_listen_start(s, spec, &error);
	ck_assert_ptr_null(again);
	ck_assert_ptr_nonnull(error);
	ck_assert_ptr_nonnull(strstr(error, "in use"));
	g_free(error);
	error = NULL;
	g_free(spec);

	ck_assert_ptr_null(stats_listen_start(s, "example.com:0", &error));
	ck_assert_ptr_nonnull(error);
	g_free(error);
	error = NULL;

	srv = stats_listen_stop(srv);
	ck_assert_ptr_null(srv);
	ck_assert_ptr_null(stats_listen_stop(NULL));
	/* the listening socket and the connections are closed */
	ck_assert_int_eq(open_fds(), fds);
	stats_free(s);
}
END_TEST

/* trickle - what a slowloris does: one more byte every second */
struct trickle {
	int fd[STATS_MAX_CONNECTIONS];
	int stop;
};

static void *
trickle_loop(void *arg)
{
	struct trickle *t = arg;
	const char *req = "ET /metrics HTTP/1.1\r\nHost: t\r\nX-Slow: ";

	for (size_t i = 0; !__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE); i++) {
		for (int k = 0; k < STATS_MAX_CONNECTIONS; k++)
			(void)send(t->fd[k], i < strlen(req) ? req + i : "a", 1,
				   MSG_NOSIGNAL);
		sleep(1);
	}
	return NULL;
}

/* A client that sends a byte a second is busy, never silent: the idle
 * timeout alone let STATS_MAX_CONNECTIONS of them hold every slot for
 * hours, and every scrape waited in the backlog until it gave up. */
START_TEST(test_slow_clients)
{
	struct stats *s = stats_new("t");
	struct trickle t = {{0}, 0};
	struct stats_server *srv;
	struct sockaddr_in sin = {0};
	char *error = NULL, *r, c;
	pthread_t th;
	gint64 start;

	srv = stats_listen_start(s, "127.0.0.1:0", &error);
	ck_assert_msg(srv != NULL, "%s", error);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)stats_listen_port(srv));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int k = 0; k < STATS_MAX_CONNECTIONS; k++) {
		t.fd[k] = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ge(t.fd[k], 0);
		ck_assert_int_eq(
		    connect(t.fd[k], (struct sockaddr *)&sin, sizeof(sin)), 0);
		ck_assert_int_eq(send(t.fd[k], "G", 1, MSG_NOSIGNAL), 1);
	}
	ck_assert_int_eq(pthread_create(&th, NULL, trickle_loop, &t), 0);
	sleep(1); /* every slot taken */

	/* the scrape waits for a slot: at most STATS_TIMEOUT_S, well under
	 * Prometheus's 10 s; http() gives up after 10 s */
	start = g_get_monotonic_time();
	r = http(AF_INET, stats_listen_port(srv),
		 "GET /metrics HTTP/1.0\r\n\r\n");
	ck_assert_msg(strstr(r, "\ntriage_messages_total 0\n") != NULL, "%s",
		      r);
	ck_assert_int_le(g_get_monotonic_time() - start,
			 (gint64)(STATS_TIMEOUT_S + 1) * G_USEC_PER_SEC);
	g_free(r);

	/* the slow clients were cut, busy as they were */
	__atomic_store_n(&t.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	for (int k = 0; k < STATS_MAX_CONNECTIONS; k++) {
		struct timeval tv = {STATS_TIMEOUT_S + 2, 0};

		ck_assert_int_eq(setsockopt(t.fd[k], SOL_SOCKET, SO_RCVTIMEO,
					    &tv, sizeof(tv)),
				 0);
		errno = 0;
		/* end of stream or reset, not the receive timeout */
		ck_assert_int_le(recv(t.fd[k], &c, 1, 0), 0);
		ck_assert_int_ne(errno, EAGAIN);
		close(t.fd[k]);
	}
	stats_listen_stop(srv);
	stats_free(s);
}
END_TEST

/* An IPv4-mapped address passes -n as loopback, so it must also bind:
 * on an IPv6-only socket the start failed with "Invalid argument". */
START_TEST(test_http_v4mapped)
{
	struct stats *s = stats_new("t");
	struct stats_server *srv;
	char *error = NULL, *r;
	int probe = socket(AF_INET6, SOCK_STREAM, 0);

	/* no IPv6 in this kernel: nothing to test */
	if (probe < 0) {
		stats_free(s);
		return;
	}
	close(probe);
	ck_assert_int_eq(stats_listen_check("[::ffff:127.0.0.1]:0", &error), 1);
	srv = stats_listen_start(s, "[::ffff:127.0.0.1]:0", &error);
	ck_assert_msg(srv != NULL, "%s", error);
	r = http(AF_INET, stats_listen_port(srv),
		 "GET /metrics HTTP/1.0\r\n\r\n");
	ck_assert_ptr_nonnull(strstr(r, "\ntriage_messages_total 0\n"));
	g_free(r);
	stats_listen_stop(srv);
	stats_free(s);
}
END_TEST

START_TEST(test_http6)
{
	struct stats *s = stats_new("t");
	struct stats_server *srv;
	char *error = NULL, *r;
	int probe = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 sin6 = {0};

	/* no IPv6 loopback in this sandbox: nothing to test */
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	if (probe < 0 ||
	    bind(probe, (struct sockaddr *)&sin6, sizeof(sin6)) != 0) {
		if (probe >= 0)
			close(probe);
		stats_free(s);
		return;
	}
	close(probe);
	srv = stats_listen_start(s, "[::1]:0", &error);
	ck_assert_msg(srv != NULL, "%s", error);
	{
		char *want =
		    g_strdup_printf("[::1]:%d", stats_listen_port(srv));

		ck_assert_str_eq(stats_listen_address(srv), want);
		g_free(want);
	}
	r = http(AF_INET6, stats_listen_port(srv),
		 "GET /metrics HTTP/1.0\r\n\r\n");
	ck_assert_ptr_nonnull(strstr(r, "\ntriage_messages_total 0\n"));
	g_free(r);
	stats_listen_stop(srv);
	stats_free(s);
}
END_TEST

static Suite *
stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("stats");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_render);
	tcase_add_test(tc, test_histogram);
	tcase_add_test(tc, test_escape);
	tcase_add_test(tc, test_register);
	tcase_add_loop_test(tc, test_listen_check, 0, G_N_ELEMENTS(specs));
	tcase_add_test(tc, test_http);
	tcase_add_test(tc, test_bare_port_address);
	tcase_add_test(tc, test_slow_clients);
	tcase_add_test(tc, test_http_v4mapped);
	tcase_add_test(tc, test_http6);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(stats_suite)
