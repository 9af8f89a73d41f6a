/*
 * milter.h - the libmilter glue, seen from main.c
 *
 * milter_open() registers the callbacks and opens the listening socket
 * (removing a stale unix socket); milter_run() hands control to
 * libmilter until it is told to stop.  The configuration snapshot in use
 * can be replaced at any time with milter_set_config(); sessions keep the
 * snapshot they started with.
 */
#ifndef TRIAGE_MILTER_H
#define TRIAGE_MILTER_H

#include "config.h"

struct store;
struct sender;
struct stats;

int milter_open(struct triage_config *cf, const char *socket);
int milter_run(void);
void milter_set_config(struct triage_config *cf);
void milter_set_runtime(struct store *st, struct sender *s);
void milter_set_stats(struct stats *s);
int milter_wait_idle(unsigned timeout_ms);
void milter_refuse_new(int refuse);
void milter_stop(void);
void milter_cleanup(void);
/* analyses that may run at once (max_concurrent_scans, or the CPUs) */
unsigned milter_scan_slots(const struct triage_config *cf);

#endif
