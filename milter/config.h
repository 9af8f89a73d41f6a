/*
 * config.h - the configuration snapshot
 *
 * config_load() parses triage-milter.conf (libconfuse) into an immutable,
 * reference-counted snapshot.  Connections take a reference when they start
 * and drop it when they end, so a reload can swap in a new snapshot while
 * old sessions finish with the one they began with.
 *
 * Errors come back as "file:line: message" in *error_r (caller frees).
 */
#ifndef TRIAGE_CONFIG_H
#define TRIAGE_CONFIG_H

#include <stddef.h>

#include <glib.h>

#include "reply.h"
#include "sender.h"
#include "skip.h"
#include "strvec.h"

enum on_error { ON_ERROR_ACCEPT = 0, ON_ERROR_TEMPFAIL = 1 };

/* Defaults, with the reason beside each. */
/* A support message with quoted thread and HTML twin is rarely > 100 KB;
 * attachments are skipped anyway, so 256 KiB keeps the text and bounds
 * memory at 200 concurrent sessions to ~50 MB. */
#define CONFIG_DEF_MAX_SCAN_BYTES (256 * 1024)
/* About two printed pages of the customer's own words. */
#define CONFIG_DEF_LONG_WORDS 500
/* Most support mail has 1-5 paragraphs; a dozen is a letter. */
#define CONFIG_DEF_LONG_PARAGRAPHS 12
/* Real mail nests 3-5 deep; deeper is a bomb or a bug. */
#define CONFIG_DEF_MAX_MIME_DEPTH 20
/* Legitimate mail rarely has more than a few dozen parts. */
#define CONFIG_DEF_MAX_MIME_PARTS 200
/* Decoded text kept for analysis (the rest is ignored, flag truncated). */
#define CONFIG_DEF_MAX_TEXT_BYTES (512 * 1024)
/* Whole-message analysis budget before we give up and accept. */
#define CONFIG_DEF_SCAN_TIMEOUT_MS 5000
/* Real mail carries 20-80 header fields; thousands are an attack. */
#define CONFIG_DEF_MAX_HEADERS 1000
/* Postfix's header_size_limit is 100 KiB; a long To: list is ~20 KiB. */
#define CONFIG_DEF_MAX_HEADER_BYTES (64 * 1024)
/* Words, numbers and symbols of one message analysed. */
#define CONFIG_DEF_MAX_TOKENS 200000
/* Per session in memory; the rest of max_scan_bytes goes to a temporary
 * file, so 200 sessions hold ~13 MB instead of ~50 MB. */
#define CONFIG_DEF_MEMORY_BUFFER_BYTES (64 * 1024)

/* A category of rules: its score threshold and what a flag means. */
struct config_category {
	char *name;       /* as rules name it: "legal" */
	double threshold; /* score at or above which the flag is set */
	char *flag;       /* X-Triage-Flags value: "legal-threat" */
	char *route;      /* route name, "" = none */
	int priority;     /* the highest flagged priority names the route */
};

/* A route: where a flagged message goes and what is sent back. */
struct config_route {
	char *name;
	char *template;              /* acknowledgment, "" = none */
	struct strvec add_recipient; /* copies to these addresses */
	struct strvec redirect;      /* replaces every recipient */
	char *quarantine;            /* reason, "" = none */
};

#define CONFIG_ACT_ADDRCPT 0x01
#define CONFIG_ACT_DELRCPT 0x02
#define CONFIG_ACT_QUARANTINE 0x04

/* Repeat senders: more than `messages` within `window_s` is frequent. */
struct config_frequent {
	unsigned messages; /* 0 = off */
	unsigned window_s;
	char *window; /* as written, for X-Triage-Sender-Count */
};

/* The default category threshold: one strong rule, or two moderate. */
#define CONFIG_DEF_THRESHOLD 5.0

struct rule_set;
struct sign_keys;
struct model;

struct triage_config {
	int refcount; /* atomic; see config_ref()/config_unref() */
	char *path;   /* file it was read from, absolute */
	char *name;   /* the same as the user gave it, for messages */

	/* daemon */
	char *socket;
	int socket_mode;    /* for unix sockets, e.g. 0660 */
	int allow_root;     /* keep running as root when user is "" */
	char *user;         /* "" = do not change user */
	char *pidfile;      /* "" = none */
	char *stats_listen; /* "" = no metrics listener */
	int syslog_facility;
	enum on_error on_error;

	/* limits */
	size_t max_scan_bytes;
	unsigned max_mime_depth;
	unsigned max_mime_parts;
	size_t max_text_bytes;
	unsigned scan_timeout_ms;
	size_t max_headers;
	size_t max_header_bytes;
	size_t max_tokens;
	unsigned regex_match_limit;
	unsigned regex_depth_limit;
	size_t memory_buffer_bytes;    /* per message; the rest spills */
	char *temp_dir;                /* "" = $TMPDIR or /tmp */
	unsigned max_concurrent_scans; /* 0 = number of CPUs */

	/* length triage */
	size_t long_words;
	size_t long_paragraphs;

	/* rules and their categories */
	char **rule_files; /* after glob expansion, sorted */
	size_t n_rule_files;
	struct rule_set *rules; /* NULL when no rule file */
	struct config_category *categories;
	size_t n_categories;
	struct config_route *routes; /* shipped and configured */
	size_t n_routes;
	unsigned long route_actions; /* CONFIG_ACT_* any route needs */

	/* acknowledgments (reply.h, template.h, sender.h) */
	struct reply_policy reply;
	char *support_name;
	char *reply_within;
	char *default_template; /* for mail with no route; "" = none */
	char *templates_dir;
	GHashTable *templates; /* name -> struct template *, loaded */
	struct sender_config sender;
	unsigned drain_s; /* at stop, how long to drain the queue */

	struct config_frequent frequent;

	/* mail that is not triaged (skip.h) */
	struct skip_nets internal_hosts;
	int skip_authenticated;
	struct strvec skip_senders;
	struct strvec skip_recipients;
	int skipped_flag; /* add "X-Triage-Flags: skipped" (else nothing) */

	/* the learned model (model.h); NULL = rules only */
	struct model *model;
	char *model_file;
	char *model_category; /* where its score goes, "abusive" */
	double model_weight;  /* score = weight * probability */
	double model_threshold;

	/* signed verdicts (sign.h); NULL = not signed */
	struct sign_keys *sign_keys;
	char *sign_key_id; /* the key that signs, "" = verify only */

	/* state */
	char *store_uri; /* "" = none */
	char *store_key_file;
};

const char *config_route_template(const struct triage_config *cf,
				  const char *route);
const struct config_route *config_route(const struct triage_config *cf,
					const char *route);

const struct config_category *config_category(const struct triage_config *cf,
					      const char *name);

struct triage_config *config_load(const char *path, char **error_r);
struct triage_config *config_default(void);
struct triage_config *config_ref(struct triage_config *cf);
/*
 * config_model_lost_rules - the rules the model was trained with (its
 * "rules:" header) that the configuration's rule files no longer have,
 * separated by spaces: their hits were features, so the model scores
 * differently until retrained.  NULL when none (g_free otherwise).
 */
char *config_model_lost_rules(const struct triage_config *cf);
/*
 * config_restart_keys - the settings a reload changed that take effect
 * only at a restart ("store, transport"), comparing the configuration the
 * daemon started with (was) and the reloaded one (now); socket_fixed: -p
 * gave the socket, so the file's does not count.  NULL when none; else
 * g_free.
 */
char *config_restart_keys(const struct triage_config *was,
			  const struct triage_config *now, int socket_fixed);
struct triage_config *config_unref(struct triage_config *cf);
int config_parse_socket(const char *spec, char **error_r);

#endif
