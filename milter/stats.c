/*
 * stats.c - process-wide counters and their Prometheus endpoint
 *
 * Every counter is a relaxed 64-bit atomic: a scrape needs each number
 * to be exact, not a snapshot of all of them at one instant.  A label
 * family is a fixed array of slots; slot 0 is "other".  Registration
 * writes a slot's name under the mutex, then publishes the new slot count
 * with a release store; readers load the count with acquire and only
 * read names below it, which never change again until stats_free().
 *
 * The histogram keeps one counter per bucket and accumulates at render,
 * so _count always equals the +Inf bucket.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <glib.h>
#include <microhttpd.h>

#include "stats.h"

typedef _Atomic uint64_t stats_counter;

/* Scan-time buckets in milliseconds.  A scan is usually well under a
 * millisecond; the top buckets reach the default scan timeout (5 s). */
static const unsigned stats_buckets_ms[] = {1,   2,   5,   10,   25,   50,
					    100, 250, 500, 1000, 2500, 5000};
#define STATS_N_BUCKETS (sizeof(stats_buckets_ms) / sizeof(*stats_buckets_ms))

/* Flags the engine sets itself, whatever the config says. */
static const char *const stats_builtin_flags[] = {"long", "truncated",
						  "frequent", "skipped"};

/* The acknowledgment reason tokens of reply.h, ack.c and milter.c. */
static const char *const stats_builtin_reasons[] = {"off",
						    "not-support-address",
						    "null-sender",
						    "robot-sender",
						    "own-address",
						    "no-message",
						    "auto-submitted",
						    "list",
						    "precedence",
						    "auto-response-suppress",
						    "report",
						    "spam",
						    "no-template",
						    "auth",
						    "duplicate",
						    "store-unavailable",
						    "rate-limit",
						    "compose-failed",
						    "queue-full",
						    "no-sender"};

static const char *const stats_error_names[STATS_ERR_N] = {"accepted-unchanged",
							   "tempfailed"};

/* stats_family - one labelled counter: names and their counts */
struct stats_family {
	const char *metric;
	const char *help;
	const char *label;
	_Atomic size_t n; /* published slots */
	char *names[STATS_MAX_NAMES];
	stats_counter count[STATS_MAX_NAMES];
};

struct stats {
	pthread_mutex_t lock; /* registration only */
	char *version;
	int64_t start_time;
	stats_counter messages;
	stats_counter acks_sent;
	stats_counter errors[STATS_ERR_N];
	stats_counter scan_buckets[STATS_N_BUCKETS + 1]; /* last: +Inf */
	stats_counter scan_usec;
	struct stats_family flags;
	struct stats_family routes;
	struct stats_family reasons;
};

/* stats_conn - one open scrape connection and when it must be gone */
struct stats_conn {
	int fd;
	gint64 deadline; /* g_get_monotonic_time() */
	int cut;         /* shut down, waiting for MHD to close it */
};

/*
 * stats_server - the listener and the one thread that runs it
 *
 * MHD's own timeout only counts silence, so a client sending a byte now
 * and then would hold its slot for hours; STATS_MAX_CONNECTIONS of them
 * would lock every scrape out.  So the server runs MHD from a thread of
 * its own and, between two rounds, shuts down every connection older
 * than STATS_TIMEOUT_S.  conns is only touched from that thread (the
 * notify callback runs inside MHD_run_wait), and by stats_listen_stop()
 * once the thread is gone.
 */
struct stats_server {
	struct MHD_Daemon *daemon;
	struct stats *stats;
	int port;
	char address[INET6_ADDRSTRLEN + 8]; /* "127.0.0.1:9894", "[::1]:9894" */
	GThread *thread;
	atomic_int stop;
	GPtrArray *conns; /* struct stats_conn */
};

/* stats_inc - one more, from any thread */
static void
stats_inc(stats_counter *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* stats_get - the current value of a counter */
static uint64_t
stats_get(const stats_counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* stats_family_init - an empty family holding only "other" */
static void
stats_family_init(struct stats_family *f, const char *metric, const char *help,
		  const char *label)
{
	f->metric = metric;
	f->help = help;
	f->label = label;
	f->names[0] = g_strdup(STATS_OTHER);
	atomic_store_explicit(&f->n, 1, memory_order_release);
}

/* stats_family_find - slot of a published name, or -1; lock-free */
static int
stats_family_find(const struct stats_family *f, const char *name)
{
	size_t n = atomic_load_explicit(&f->n, memory_order_acquire);

	if (name == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(f->names[i], name) == 0)
			return (int)i;
	return -1;
}

/* stats_family_add - register a name (idempotent); its slot or -1 */
static int
stats_family_add(struct stats *s, struct stats_family *f, const char *name)
{
	int idx;

	if (s == NULL || name == NULL || *name == '\0' ||
	    strlen(name) > STATS_MAX_NAME_LEN)
		return -1;
	pthread_mutex_lock(&s->lock);
	idx = stats_family_find(f, name);
	if (idx < 0) {
		size_t n = atomic_load_explicit(&f->n, memory_order_relaxed);

		if (n < STATS_MAX_NAMES) {
			f->names[n] = g_strdup(name);
			atomic_store_explicit(&f->n, n + 1,
					      memory_order_release);
			idx = (int)n;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return idx;
}

/* stats_family_count - one more for a slot; a bad slot counts as other */
static void
stats_family_count(struct stats_family *f, int idx)
{
	size_t n = atomic_load_explicit(&f->n, memory_order_acquire);

	if (idx < 0 || (size_t)idx >= n)
		idx = 0;
	stats_inc(&f->count[idx]);
}

/* stats_new - the process-wide counters, with the built-in names */
struct stats *
stats_new(const char *version)
{
	struct stats *s = g_new0(struct stats, 1);

	pthread_mutex_init(&s->lock, NULL);
	s->version = g_strdup(version ? version : "unknown");
	s->start_time = g_get_real_time() / G_USEC_PER_SEC;
	stats_family_init(&s->flags, "triage_flags_total",
			  "Messages by flag set in X-Triage-Flags.", "flag");
	stats_family_init(&s->routes, "triage_routes_total",
			  "Messages by route taken.", "route");
	stats_family_init(&s->reasons, "triage_acks_suppressed_total",
			  "Acknowledgments not sent, by reason.", "reason");
	for (size_t i = 0; i < G_N_ELEMENTS(stats_builtin_flags); i++)
		(void)stats_add_flag(s, stats_builtin_flags[i]);
	for (size_t i = 0; i < G_N_ELEMENTS(stats_builtin_reasons); i++)
		(void)stats_add_reason(s, stats_builtin_reasons[i]);
	return s;
}

/* stats_free - release everything; no thread may count any more */
struct stats *
stats_free(struct stats *s)
{
	struct stats_family *fams[3];

	if (s == NULL)
		return NULL;
	fams[0] = &s->flags;
	fams[1] = &s->routes;
	fams[2] = &s->reasons;
	for (size_t k = 0; k < G_N_ELEMENTS(fams); k++) {
		size_t n =
		    atomic_load_explicit(&fams[k]->n, memory_order_acquire);

		for (size_t i = 0; i < n; i++)
			g_free(fams[k]->names[i]);
	}
	pthread_mutex_destroy(&s->lock);
	g_free(s->version);
	g_free(s);
	return NULL;
}

/* stats_add_flag - register a flag name; its index, or -1 */
int
stats_add_flag(struct stats *s, const char *flag)
{
	return s ? stats_family_add(s, &s->flags, flag) : -1;
}

/* stats_add_route - register a route name; its index, or -1 */
int
stats_add_route(struct stats *s, const char *route)
{
	return s ? stats_family_add(s, &s->routes, route) : -1;
}

/* stats_add_reason - register a suppression reason; its index, or -1 */
int
stats_add_reason(struct stats *s, const char *reason)
{
	return s ? stats_family_add(s, &s->reasons, reason) : -1;
}

/* stats_message - one more message analysed */
void
stats_message(struct stats *s)
{
	if (s != NULL)
		stats_inc(&s->messages);
}

/* stats_flag - one more message with this flag (unknown: other) */
void
stats_flag(struct stats *s, const char *flag)
{
	if (s != NULL)
		stats_family_count(&s->flags,
				   stats_family_find(&s->flags, flag));
}

/* stats_flag_at - one more for the flag stats_add_flag() indexed */
void
stats_flag_at(struct stats *s, int idx)
{
	if (s != NULL)
		stats_family_count(&s->flags, idx);
}

/* stats_route - one more message on this route (unknown: other) */
void
stats_route(struct stats *s, const char *route)
{
	if (s != NULL)
		stats_family_count(&s->routes,
				   stats_family_find(&s->routes, route));
}

/* stats_route_at - one more for the route stats_add_route() indexed */
void
stats_route_at(struct stats *s, int idx)
{
	if (s != NULL)
		stats_family_count(&s->routes, idx);
}

/* stats_ack_sent - one more acknowledgment handed to the sender */
void
stats_ack_sent(struct stats *s)
{
	if (s != NULL)
		stats_inc(&s->acks_sent);
}

/* stats_ack_suppressed - one more acknowledgment not sent, and why */
void
stats_ack_suppressed(struct stats *s, const char *reason)
{
	if (s != NULL)
		stats_family_count(&s->reasons,
				   stats_family_find(&s->reasons, reason));
}

/* stats_error - one more message left to the failure policy */
void
stats_error(struct stats *s, enum stats_error kind)
{
	if (s != NULL && (unsigned)kind < STATS_ERR_N)
		stats_inc(&s->errors[kind]);
}

/* stats_scan_time - one observation of the scan time, in microseconds */
void
stats_scan_time(struct stats *s, uint64_t usec)
{
	size_t i = 0;

	if (s == NULL)
		return;
	while (i < STATS_N_BUCKETS && usec > stats_buckets_ms[i] * 1000ULL)
		i++;
	stats_inc(&s->scan_buckets[i]);
	atomic_fetch_add_explicit(&s->scan_usec, usec, memory_order_relaxed);
}

/* stats_label - a label value, escaped as the exposition format wants */
static void
stats_label(GString *out, const char *value)
{
	char *valid = g_utf8_make_valid(value, -1);

	for (const char *p = valid; *p != '\0'; p++) {
		if (*p == '\\')
			g_string_append(out, "\\\\");
		else if (*p == '"')
			g_string_append(out, "\\\"");
		else if (*p == '\n')
			g_string_append(out, "\\n");
		else
			g_string_append_c(out, *p);
	}
	g_free(valid);
}

/* stats_head - the HELP and TYPE lines of one metric */
static void
stats_head(GString *out, const char *metric, const char *help, const char *type)
{
	g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", metric,
			       help, metric, type);
}

/* stats_sample - one line: metric{label="value"} count */
static void
stats_sample(GString *out, const char *metric, const char *label,
	     const char *value, uint64_t count)
{
	g_string_append(out, metric);
	if (label != NULL) {
		g_string_append_printf(out, "{%s=\"", label);
		stats_label(out, value);
		g_string_append(out, "\"}");
	}
	g_string_append_printf(out, " %" G_GUINT64_FORMAT "\n", count);
}

/* stats_render_family - a labelled counter, registration order, other
 * last */
static void
stats_render_family(GString *out, const struct stats_family *f)
{
	size_t n = atomic_load_explicit(&f->n, memory_order_acquire);

	stats_head(out, f->metric, f->help, "counter");
	for (size_t i = 1; i < n; i++)
		stats_sample(out, f->metric, f->label, f->names[i],
			     stats_get(&f->count[i]));
	stats_sample(out, f->metric, f->label, f->names[0],
		     stats_get(&f->count[0]));
}

/* stats_render_scan - the scan-time histogram, buckets cumulative */
static void
stats_render_scan(GString *out, const struct stats *s)
{
	const char *m = "triage_scan_milliseconds";
	uint64_t total = 0, usec = stats_get(&s->scan_usec);

	stats_head(out, m, "Time spent analysing one message.", "histogram");
	for (size_t i = 0; i <= STATS_N_BUCKETS; i++) {
		char le[16];

		total += stats_get(&s->scan_buckets[i]);
		if (i < STATS_N_BUCKETS)
			g_snprintf(le, sizeof(le), "%u", stats_buckets_ms[i]);
		else
			g_strlcpy(le, "+Inf", sizeof(le));
		stats_sample(out, "triage_scan_milliseconds_bucket", "le", le,
			     total);
	}
	g_string_append_printf(out,
			       "%s_sum %" G_GUINT64_FORMAT ".%03u\n"
			       "%s_count %" G_GUINT64_FORMAT "\n",
			       m, usec / 1000, (unsigned)(usec % 1000), m,
			       total);
}

/* stats_render - every counter in Prometheus text format 0.0.4; g_free */
char *
stats_render(const struct stats *s)
{
	GString *out = g_string_sized_new(4096);
	uint64_t suppressed = 0;
	size_t n = atomic_load_explicit(&s->reasons.n, memory_order_acquire);

	stats_head(out, "triage_messages_total",
		   "Messages seen (analysed, skipped or failed).", "counter");
	stats_sample(out, "triage_messages_total", NULL, NULL,
		     stats_get(&s->messages));
	stats_render_family(out, &s->flags);
	stats_render_family(out, &s->routes);
	for (size_t i = 0; i < n; i++)
		suppressed += stats_get(&s->reasons.count[i]);
	stats_head(out, "triage_acks_total",
		   "Acknowledgment decisions: sent (handed to the sender "
		   "queue) or suppressed.",
		   "counter");
	stats_sample(out, "triage_acks_total", "decision", "sent",
		     stats_get(&s->acks_sent));
	stats_sample(out, "triage_acks_total", "decision", "suppressed",
		     suppressed);
	stats_render_family(out, &s->reasons);
	stats_head(out, "triage_errors_total",
		   "Messages left to the failure policy (on_error), by "
		   "outcome.",
		   "counter");
	for (size_t i = 0; i < STATS_ERR_N; i++)
		stats_sample(out, "triage_errors_total", "kind",
			     stats_error_names[i], stats_get(&s->errors[i]));
	stats_render_scan(out, s);
	stats_head(out, "triage_start_time_seconds",
		   "Start time of the process since the Unix epoch.", "gauge");
	stats_sample(out, "triage_start_time_seconds", NULL, NULL,
		     (uint64_t)s->start_time);
	stats_head(out, "triage_build_info", "The version running.", "gauge");
	stats_sample(out, "triage_build_info", "version", s->version, 1);
	return g_string_free(out, FALSE);
}

/* stats_is_loopback - 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104 */
static int
stats_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
		return 1;
	return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
	       sin6->sin6_addr.s6_addr[12] == 127;
}

/* stats_parse - "[host:]port", host numeric, "[v6]" or localhost; 0/-1 */
static int
stats_parse(const char *spec, struct sockaddr_storage *ss_r, socklen_t *len_r,
	    char **error_r)
{
	struct sockaddr_storage ss;
	const char *colon, *port_s;
	char *host, *end;
	unsigned long port;
	int ok;

	if (spec == NULL || *spec == '\0') {
		*error_r = g_strdup("stats_listen: empty address");
		return -1;
	}
	colon = strrchr(spec, ':');
	if (colon == NULL) {
		host = g_strdup(STATS_DEFAULT_HOST);
		port_s = spec;
	} else if (spec[0] == '[') {
		if (colon == spec || colon[-1] != ']') {
			*error_r = g_strdup_printf(
			    "stats_listen \"%s\": expected [address]:port",
			    spec);
			return -1;
		}
		host = g_strndup(spec + 1, (size_t)(colon - spec - 2));
		port_s = colon + 1;
	} else if (colon == spec) {
		host = g_strdup(STATS_DEFAULT_HOST);
		port_s = colon + 1;
	} else {
		host = g_strndup(spec, (size_t)(colon - spec));
		port_s = colon + 1;
	}
	errno = 0;
	port = strtoul(port_s, &end, 10);
	if (!g_ascii_isdigit(*port_s) || *end != '\0' || errno != 0 ||
	    port > 65535) {
		*error_r =
		    g_strdup_printf("stats_listen \"%s\": bad port", spec);
		g_free(host);
		return -1;
	}
	memset(&ss, 0, sizeof(ss));
	if (strcmp(host, "localhost") == 0) {
		g_free(host);
		host = g_strdup(STATS_DEFAULT_HOST);
	}
	if (spec[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		ok = inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1;
		*len_r = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		ok = inet_pton(AF_INET, host, &sin->sin_addr) == 1;
		*len_r = sizeof(*sin);
	}
	if (!ok) {
		*error_r = g_strdup_printf(
		    "stats_listen \"%s\": \"%s\" is not a numeric IPv4 "
		    "address or a bracketed IPv6 one",
		    spec, host);
		g_free(host);
		return -1;
	}
	g_free(host);
	*ss_r = ss;
	return 0;
}

/* stats_listen_check - 1: loopback, 0: explicitly elsewhere, -1: bad */
int
stats_listen_check(const char *spec, char **error_r)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (stats_parse(spec, &ss, &len, error_r) != 0)
		return -1;
	return stats_is_loopback(&ss);
}

/* stats_reply - queue a response; the body is taken (g_free) */
static enum MHD_Result
stats_reply(struct MHD_Connection *conn, unsigned status, char *body,
	    const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer_with_free_callback(strlen(body),
							       body, g_free);
	if (r == NULL) {
		g_free(body);
		return MHD_NO;
	}
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
					      "GET, HEAD");
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* stats_handler - GET /metrics; 404 elsewhere, 405 for other methods */
static enum MHD_Result
stats_handler(void *cls, struct MHD_Connection *conn, const char *url,
	      const char *method, const char *version, const char *upload,
	      size_t *upload_size, void **con_cls)
{
	const struct stats_server *srv = cls;
	const char *text = "text/plain; charset=utf-8";

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	/* HEAD is GET without the body (RFC 9110); MHD drops the body. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return stats_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				   g_strdup("method not allowed\n"), text);
	if (strcmp(url, "/metrics") != 0)
		return stats_reply(conn, MHD_HTTP_NOT_FOUND,
				   g_strdup("not found; try /metrics\n"), text);
	return stats_reply(conn, MHD_HTTP_OK, stats_render(srv->stats),
			   "text/plain; version=0.0.4; charset=utf-8");
}

/* stats_notify - track each connection from its start to its close */
static void
stats_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
	     enum MHD_ConnectionNotificationCode toe)
{
	struct stats_server *srv = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		    conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct stats_conn *sc = g_new0(struct stats_conn, 1);

		sc->fd = ci != NULL ? ci->connect_fd : -1;
		sc->deadline = g_get_monotonic_time() +
			       (gint64)STATS_TIMEOUT_S * G_USEC_PER_SEC;
		g_ptr_array_add(srv->conns, sc);
		*socket_context = sc;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED &&
		   *socket_context != NULL) {
		/* before MHD closes the descriptor: never shut a reused one */
		(void)g_ptr_array_remove_fast(srv->conns, *socket_context);
		*socket_context = NULL;
	}
}

/* stats_cut_late - shut down connections past their deadline; MHD then
 * reads the end of the stream and closes them itself */
static void
stats_cut_late(struct stats_server *srv)
{
	gint64 now = g_get_monotonic_time();

	for (guint i = 0; i < srv->conns->len; i++) {
		struct stats_conn *sc = g_ptr_array_index(srv->conns, i);

		if (!sc->cut && sc->fd >= 0 && now >= sc->deadline) {
			(void)shutdown(sc->fd, SHUT_RDWR);
			sc->cut = 1;
		}
	}
}

/* stats_serve - the server thread: MHD rounds, deadlines between them */
static gpointer
stats_serve(gpointer arg)
{
	struct stats_server *srv = arg;

	while (!atomic_load(&srv->stop)) {
		if (MHD_run_wait(srv->daemon, STATS_POLL_MS) != MHD_YES)
			g_usleep(STATS_POLL_MS * 1000); /* no busy loop */
		stats_cut_late(srv);
	}
	return NULL;
}

/* stats_socket - a bound, listening, non-blocking socket, or -1 */
static int
stats_socket(const struct sockaddr_storage *ss, socklen_t len, const char *spec,
	     int *port_r, char *address_r, size_t address_size, char **error_r)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	int one = 1;
	int fd = socket(ss->ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		*error_r = g_strdup_printf("stats_listen \"%s\": socket: %s",
					   spec, g_strerror(errno));
		return -1;
	}
	/* a restart must not wait for TIME_WAIT of the last scrape */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "[::]" means IPv6 only, whatever net.ipv6.bindv6only says; an
	 * IPv4-mapped address ("[::ffff:127.0.0.1]") is IPv4, and binding
	 * one to an IPv6-only socket fails with EINVAL */
	if (ss->ss_family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(
		&((const struct sockaddr_in6 *)ss)->sin6_addr))
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				 sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) != 0 ||
	    listen(fd, STATS_MAX_CONNECTIONS) != 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
		*error_r = g_strdup_printf("stats_listen \"%s\": %s", spec,
					   g_strerror(errno));
		(void)close(fd);
		return -1;
	}
	{
		char host[INET6_ADDRSTRLEN] = "?";

		if (bound.ss_family == AF_INET) {
			const struct sockaddr_in *sin =
			    (const struct sockaddr_in *)&bound;

			*port_r = ntohs(sin->sin_port);
			(void)inet_ntop(AF_INET, &sin->sin_addr, host,
					sizeof(host));
			snprintf(address_r, address_size, "%s:%d", host,
				 *port_r);
		} else {
			const struct sockaddr_in6 *sin6 =
			    (const struct sockaddr_in6 *)&bound;

			*port_r = ntohs(sin6->sin6_port);
			(void)inet_ntop(AF_INET6, &sin6->sin6_addr, host,
					sizeof(host));
			snprintf(address_r, address_size, "[%s]:%d", host,
				 *port_r);
		}
	}
	return fd;
}

/* stats_listen_start - serve /metrics on spec from a thread of its own */
struct stats_server *
stats_listen_start(struct stats *s, const char *spec, char **error_r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct stats_server *srv;
	char address[sizeof(srv->address)];
	int fd, port;

	if (stats_parse(spec, &ss, &len, error_r) != 0)
		return NULL;
	fd = stats_socket(&ss, len, spec, &port, address, sizeof(address),
			  error_r);
	if (fd < 0)
		return NULL;
	srv = g_new0(struct stats_server, 1);
	srv->stats = s;
	srv->port = port;
	g_strlcpy(srv->address, address, sizeof(srv->address));
	srv->conns = g_ptr_array_new_with_free_func(g_free);
	/* no internal thread: stats_serve() runs MHD (epoll on Linux) */
	srv->daemon = MHD_start_daemon(
	    MHD_USE_AUTO | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
	    (uint16_t)port, NULL, NULL, stats_handler, srv,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)STATS_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)STATS_TIMEOUT_S, MHD_OPTION_NOTIFY_CONNECTION,
	    stats_notify, srv, MHD_OPTION_END);
	if (srv->daemon == NULL) {
		*error_r = g_strdup_printf(
		    "stats_listen \"%s\": cannot start the HTTP server", spec);
		(void)close(fd);
		g_ptr_array_free(srv->conns, TRUE);
		g_free(srv);
		return NULL;
	}
	srv->thread = g_thread_new("stats", stats_serve, srv);
	return srv;
}

/* stats_listen_port - the port bound (useful after asking for port 0) */
int
stats_listen_port(const struct stats_server *srv)
{
	return srv->port;
}

/* stats_listen_address - the address and port bound, "127.0.0.1:9894"
 * or "[::1]:9894": what a bare port or port 0 turned into */
const char *
stats_listen_address(const struct stats_server *srv)
{
	return srv->address;
}

/* stats_listen_stop - wait for the thread (a poll round at most), close
 * the listener and the connections */
struct stats_server *
stats_listen_stop(struct stats_server *srv)
{
	if (srv == NULL)
		return NULL;
	atomic_store(&srv->stop, 1);
	g_thread_join(srv->thread);
	MHD_stop_daemon(srv->daemon);
	g_ptr_array_free(srv->conns, TRUE);
	g_free(srv);
	return NULL;
}
