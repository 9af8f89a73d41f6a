/*
 * sweep.c - the store's periodic purge, on its own thread (see sweep.h)
 */
#include <glib.h>

#include "log.h"
#include "store.h"
#include "sweep.h"

struct sweep {
	struct store *st;
	gint64 interval_us;
	GThread *thread;
	GMutex lock;
	GCond cond;
	int stopping;          /* under lock */
	unsigned long removed; /* atomic */
};

/* sweep_thread - purge at each interval until stopped */
static gpointer
sweep_thread(gpointer arg)
{
	struct sweep *sw = arg;
	gint64 next = g_get_monotonic_time() + sw->interval_us;

	g_mutex_lock(&sw->lock);
	while (!sw->stopping) {
		unsigned long removed = 0;

		if (g_cond_wait_until(&sw->cond, &sw->lock, next) ||
		    g_get_monotonic_time() < next)
			continue; /* woken to stop, or spuriously */
		g_mutex_unlock(&sw->lock);
		if (store_purge(sw->st, &removed) < 0)
			log_warn("store: purging expired entries failed: %s",
				 store_last_error(sw->st));
		else if (removed > 0) {
			__atomic_add_fetch(&sw->removed, removed,
					   __ATOMIC_RELEASE);
			log_info("store: purged %lu expired entries", removed);
		}
		next = g_get_monotonic_time() + sw->interval_us;
		g_mutex_lock(&sw->lock);
	}
	g_mutex_unlock(&sw->lock);
	return NULL;
}

struct sweep *
sweep_start(struct store *st, unsigned interval_ms)
{
	struct sweep *sw;

	if (st == NULL)
		return NULL;
	sw = g_new0(struct sweep, 1);
	sw->st = st;
	sw->interval_us = (gint64)(interval_ms > 0 ? interval_ms : 1) * 1000;
	g_mutex_init(&sw->lock);
	g_cond_init(&sw->cond);
	sw->thread = g_thread_new("sweep", sweep_thread, sw);
	return sw;
}

unsigned long
sweep_removed(struct sweep *sw)
{
	return sw == NULL ? 0 : __atomic_load_n(&sw->removed, __ATOMIC_ACQUIRE);
}

struct sweep *
sweep_stop(struct sweep *sw)
{
	if (sw == NULL)
		return NULL;
	g_mutex_lock(&sw->lock);
	sw->stopping = 1;
	g_cond_signal(&sw->cond);
	g_mutex_unlock(&sw->lock);
	g_thread_join(sw->thread);
	g_mutex_clear(&sw->lock);
	g_cond_clear(&sw->cond);
	g_free(sw);
	return NULL;
}
