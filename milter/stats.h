/*
 * stats.h - process-wide counters and their Prometheus endpoint
 *
 * One struct stats lives as long as the daemon, across config reloads.
 * It counts messages, flags, routes, acknowledgments (sent, and
 * suppressed by reason), errors and the scan time of each message, and
 * renders them in the Prometheus text exposition format 0.0.4.
 *
 * Counting is lock-free (relaxed C11 atomics) and never allocates, so any
 * milter thread may call it at any time.  Flag, route and reason names
 * are registered up front (stats_new() registers the engine's own flags
 * and every acknowledgment reason token; the caller adds the configured
 * category flags and routes, again after each reload).  A name is never
 * removed, so its count survives a reload that drops it; registering a
 * known name returns its slot.  Registration takes a mutex; counting by
 * name is a linear lookup among the published names, no lock, no copy.
 * A name that was never registered, or that did not fit, is counted
 * under "other".
 *
 * stats_listen_start() serves GET /metrics over HTTP (libmicrohttpd)
 * from a thread of its own.  The address comes from the config: a port
 * alone binds 127.0.0.1; any other address must be written out as a
 * numeric IPv4 or bracketed IPv6 address, so exposing the counters
 * beyond the host is always an explicit choice.  Host names are refused
 * (no resolver at start, no surprise address).
 *
 * Limits: STATS_MAX_NAMES per label family; STATS_MAX_CONNECTIONS
 * concurrent scrapes, each cut STATS_TIMEOUT_S after it connected.
 * The module does not log: errors are returned to the caller.
 */
#ifndef TRIAGE_STATS_H
#define TRIAGE_STATS_H

#include <stdint.h>

/* Names per family: a config has a few dozen categories and routes at
 * most; a fixed array is what makes lock-free lookup safe. */
#define STATS_MAX_NAMES 128
/* Longer flag or route names are not ones a config writes. */
#define STATS_MAX_NAME_LEN 128
/* Prometheus scrapes one connection at a time; a few spare for curl. */
#define STATS_MAX_CONNECTIONS 8
/* A scrape is one small request and a few kilobytes back, done in
 * milliseconds; a connection open longer is cut, silent or not, so that
 * slow clients cannot hold every slot.  Well under Prometheus's default
 * scrape_timeout (10 s), so a scrape queued behind them still succeeds. */
#define STATS_TIMEOUT_S 5
/* How often the server thread looks at the deadlines and the stop flag;
 * also the longest stats_listen_stop() waits. */
#define STATS_POLL_MS 250
/* The default when the config gives a port alone. */
#define STATS_DEFAULT_HOST "127.0.0.1"

/* The label given to names that were never registered. */
#define STATS_OTHER "other"

/* Failures of the failure policy, label kind= of triage_errors_total. */
enum stats_error {
	STATS_ERR_ACCEPTED,   /* "accepted-unchanged" */
	STATS_ERR_TEMPFAILED, /* "tempfailed" */
	STATS_ERR_N
};

struct stats;
struct stats_server;

struct stats *stats_new(const char *version);
struct stats *stats_free(struct stats *s);

int stats_add_flag(struct stats *s, const char *flag);
int stats_add_route(struct stats *s, const char *route);
int stats_add_reason(struct stats *s, const char *reason);

void stats_message(struct stats *s);
void stats_flag(struct stats *s, const char *flag);
void stats_flag_at(struct stats *s, int idx);
void stats_route(struct stats *s, const char *route);
void stats_route_at(struct stats *s, int idx);
void stats_ack_sent(struct stats *s);
void stats_ack_suppressed(struct stats *s, const char *reason);
void stats_error(struct stats *s, enum stats_error kind);
void stats_scan_time(struct stats *s, uint64_t usec);

char *stats_render(const struct stats *s);

int stats_listen_check(const char *spec, char **error_r);
struct stats_server *stats_listen_start(struct stats *s, const char *spec,
					char **error_r);
int stats_listen_port(const struct stats_server *srv);
const char *stats_listen_address(const struct stats_server *srv);
struct stats_server *stats_listen_stop(struct stats_server *srv);

#endif
