/*
 * triage.h - the pure triage engine (libtriage)
 *
 * triage_run() takes a configuration snapshot, the raw bytes of one message
 * and its envelope, and returns a verdict: the flags, the length metrics and
 * the X-Triage-* header changes to apply.  It knows nothing of libmilter;
 * the daemon, the offline mode (-t), the unit tests and the fuzzers all call
 * this one function.
 *
 * Limits: the caller bounds the bytes it hands over (max_scan_bytes); the
 * engine bounds everything inside (MIME depth, parts, decoded text) through
 * the limits in struct triage_config.
 */
#ifndef TRIAGE_H
#define TRIAGE_H

#include <stddef.h>

#include "ack.h"
#include "config.h"
#include "strvec.h"

struct store;

/* The name the learned model's hit is reported under. */
#define TRIAGE_MODEL_RULE "ABUSIVE_MODEL"

/* triage_env - what the MTA told us about the message */
struct triage_env {
	const char *queue_id;    /* {i}, or a file name offline */
	const char *env_from;    /* MAIL FROM, without <> ; "" = null */
	const char *const *rcpt; /* RCPT TO addresses */
	size_t n_rcpt;
	const char *client_addr; /* {client_addr}, may be NULL */
	const char *auth_authen; /* {auth_authen}, may be NULL */
	/*
	 * Names of inbound headers in arrival order - at least every
	 * X-Triage-* one - when the caller saw them one by one (the milter
	 * does, even past max_scan_bytes); NULL: read them from the bytes.
	 */
	const char *const *hdr_names;
	size_t n_hdr_names;
	int truncated; /* the caller stopped buffering at max_scan_bytes */
	struct store *store; /* acknowledgment state; NULL = unavailable */
	int offline;         /* -t: no store, nothing will be sent */
	int explain;         /* -t -v: keep the model's top features */
	int keep_text;       /* --train: keep the text the model scores */
};

/* triage_length - how much the customer wrote */
struct triage_length {
	size_t words;      /* words of new text */
	size_t paragraphs; /* blank-line separated blocks of new text */
	size_t quoted;     /* bytes of quoted earlier messages */
	size_t signature;  /* bytes of signature */
};

/* triage_delete - one inbound header to remove: name and 1-based index */
struct triage_delete {
	char *name;
	int index;
};

/* triage_score - one category's total against its threshold */
struct triage_score {
	char *category;
	double score;
	double threshold;
	int flagged;
};

/* triage_hit - one rule that fired, with the customer's own words */
struct triage_hit {
	char *rule;
	char *category;
	double score;
	char *describe;
	char *quote;       /* the matched words as written, or NULL */
	size_t start, end; /* byte offsets in the analysed part */
	int in_subject;    /* the match is in the Subject, not the body */
	char *file;        /* rule file and line */
	int line;
};

/* triage_result - the verdict; free with triage_result_free() */
struct triage_result {
	struct strvec flags; /* "long", "truncated", ...; empty = none */
	char *route;         /* flagged category's route, or NULL */
	struct triage_score *scores; /* every category, config order */
	size_t n_scores;
	struct triage_hit *hits; /* reported rules that fired */
	size_t n_hits;
	struct triage_length length;
	unsigned n_parts;          /* MIME parts seen */
	unsigned n_text_parts;     /* parts read as text */
	unsigned n_attachments;    /* parts skipped as attachments */
	unsigned n_rfc822;         /* nested message/rfc822 parts */
	int charset_fallback;      /* some text had a broken/unknown charset */
	int limited;               /* a token limit cut the analysis */
	char *subject;             /* decoded, UTF-8, may be NULL */
	struct triage_delete *del; /* in the order to apply them */
	size_t n_del;
	struct strvec add_names; /* headers to add, in order */
	struct strvec add_values;
	long sender_count;  /* messages from this sender in the window; -1 */
	double model_p;     /* the learned model's probability; -1 = none */
	char *count_window; /* the window as configured, e.g. "24h" */
	struct triage_ack *ack; /* the acknowledgment decision, or NULL */
	char *error;            /* non-NULL: the engine failed; apply nothing */
	/* with env explain (-t -v): the model's strongest features, or NULL */
	char *model_explain;
	/* with env keep_text: the subject and new text as the rules and the
	 * model see them ("SUBJECT\n\nTEXT"), or NULL when not analysed */
	char *text;
};

int triage_init(void);
/*
 * triage_tune_malloc - glibc's allocator for a process that analyses
 * messages: at most arenas heaps, and no memory handed back to the kernel
 * between analyses (see triage.c).  The daemon calls it at start; so does
 * the benchmark, to measure what the daemon does.
 */
void triage_tune_malloc(unsigned arenas);
struct triage_result *triage_run(const struct triage_config *cf,
				 const char *msg, size_t len,
				 const struct triage_env *env);
/*
 * triage_unanalysed - the verdict on a message that could not be
 * analysed (why, for the log and the failure policy): only the deletions
 * of the forged X-Triage-* headers named in env->hdr_names
 */
struct triage_result *triage_unanalysed(const struct triage_env *env,
					const char *why);
struct triage_result *triage_result_free(struct triage_result *res);

#endif
