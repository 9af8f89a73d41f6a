/*
 * sweep.h - remove the store's expired entries on a timer of their own
 *
 * LMDB keeps an expired mark or count window until it is overwritten or
 * removed; without a sweep they pile up until the map is full, and then
 * the one message that finds it full pays for removing all of them.  So
 * whenever the daemon opens a store, one thread runs store_purge() every
 * SWEEP_INTERVAL_S seconds, whatever else is configured (Redis expires
 * keys itself, and its purge is a no-op).  The purge works in small
 * transactions, so mail never waits long for the writer lock.
 *
 * Limits: one sweep thread per store; sweep_stop() waits for a purge in
 * progress to finish, so it must be called before store_close().
 */
#ifndef TRIAGE_SWEEP_H
#define TRIAGE_SWEEP_H

struct store;
struct sweep;

/* Expired dedup marks and empty windows are removed this often. */
#define SWEEP_INTERVAL_S 3600

/* sweep_start - sweep st every interval_ms milliseconds; NULL st: NULL */
struct sweep *sweep_start(struct store *st, unsigned interval_ms);
/* sweep_removed - entries removed so far */
unsigned long sweep_removed(struct sweep *sw);
/* sweep_stop - stop and join the thread; NULL is a no-op; returns NULL */
struct sweep *sweep_stop(struct sweep *sw);

#endif
