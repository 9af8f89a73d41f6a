/*
 * config.c - read triage-milter.conf into a reference-counted snapshot
 *
 * libconfuse does the lexing and reports "file:line: message"; every value
 * is checked by a validate callback while the parser still knows its line,
 * so a bad value is reported where it was written.  Nothing here logs:
 * errors go back to the caller, who decides whether they are fatal (start,
 * -n) or only logged (reload).
 */
#include <errno.h>
#include <glob.h>
#include <math.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <confuse.h>
#include <glib.h>

#include "cfgfile.h"
#include "config.h"
#include "stats.h"
#include "model.h"
#include "rules.h"
#include "sign.h"
#include "store.h"
#include "strvec.h"
#include "template.h"

#define CONFIG_DEF_SOCKET "inet:8894@127.0.0.1"
#define CONFIG_DEF_RULES "{\"" TRIAGE_RULESDIR "/*.rules\"}"

/*
 * The shipped categories.  A category section in the config with the same
 * name overrides one; new names add to them.  Priorities put the mail that
 * needs the most care first: a legal threat outranks an insult.
 */
struct config_def_category {
	const char *name;
	double threshold;
	const char *flag, *route;
	int priority;
};
static const struct config_def_category config_def_categories[] = {
    {"abusive", CONFIG_DEF_THRESHOLD, "abusive", "abuse", 60},
    {"profanity", CONFIG_DEF_THRESHOLD, "profanity", "", 10},
    {"shouting", CONFIG_DEF_THRESHOLD, "shouting", "", 20},
    {"legal", CONFIG_DEF_THRESHOLD, "legal-threat", "legal", 100},
    {"public", CONFIG_DEF_THRESHOLD, "public-threat", "public", 80},
};
static char config_def_rules[] = CONFIG_DEF_RULES;
static char config_def_templates[] = TRIAGE_TEMPLATESDIR;
/* The shipped routes and the acknowledgment each sends by default. */
static const char *const config_def_routes[] = {"legal", "public", "abuse"};
static const char *const config_def_route_templates[] = {"legal", "general",
							 "abusive"};

/*
 * Errors of the parse running in this thread.  A section's cfg_t is not the
 * root's, so the buffer cannot hang off the cfg_t; reloads may run in any
 * thread, hence thread-local.
 */
static __thread GString *config_errbuf;
static __thread cfg_t *config_root; /* sections do not know file:line */

/* config_errfunc - collect libconfuse errors as "file:line: message" */
static void config_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
    G_GNUC_PRINTF(2, 0);

static void
config_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	GString *buf = config_errbuf;
	char *msg = g_strdup_vprintf(fmt, ap);
	const char *file;
	int line;

	if (buf == NULL) {
		g_free(msg);
		return;
	}
	if (buf->len > 0)
		g_string_append_c(buf, '\n');
	file = cfg->filename;
	line = cfg->line;
	if (file == NULL && config_root != NULL)
		file = config_root->filename;
	if (line <= 0 && config_root != NULL)
		line = config_root->line;
	if (file && line > 0)
		g_string_append_printf(buf, "%s:%d: %s", file, line, msg);
	else if (file)
		g_string_append_printf(buf, "%s: %s", file, msg);
	else
		g_string_append(buf, msg);
	g_free(msg);
}

/*
 * Where each option was set, for errors found after the parse (a store
 * address, options that go together): "%p|name" of its section -> line.
 * Alive from the parse to the end of config_from_cfg(), in this thread.
 */
static __thread GHashTable *config_lines;

/* config_note_line - remember the first line an option was set on, and
 * for a list the line of each element as "name#INDEX".  libconfuse calls
 * back once per element, then once more at the list's end with the same
 * size ("name#" holds the size last seen, so that end call is skipped) */
static void
config_note_line(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *name = cfg_opt_name(opt);
	unsigned size = cfg_opt_size(opt);
	char *key;

	if (config_lines == NULL || cfg->line <= 0)
		return;
	key = g_strdup_printf("%p|%s", (void *)cfg, name);
	if (g_hash_table_contains(config_lines, key))
		g_free(key);
	else
		g_hash_table_insert(config_lines, key,
				    GINT_TO_POINTER(cfg->line));
	if (!(opt->flags & CFGF_LIST))
		return;
	key = g_strdup_printf("%p|%s#", (void *)cfg, name);
	if (size > 0 &&
	    GPOINTER_TO_UINT(g_hash_table_lookup(config_lines, key)) != size) {
		g_hash_table_replace(
		    config_lines,
		    g_strdup_printf("%p|%s#%u", (void *)cfg, name, size - 1),
		    GINT_TO_POINTER(cfg->line));
		g_hash_table_replace(config_lines, key, GUINT_TO_POINTER(size));
	} else /* the end of the list: the next element starts anew */
		g_hash_table_replace(config_lines, key, GUINT_TO_POINTER(0));
}

/* config_noted_line - the line option opt of section sec (the root's
 * options with sec = the root) was set on; 0 if not set in the file */
static int
config_noted_line(cfg_t *sec, const char *opt)
{
	char *key = g_strdup_printf("%p|%s", (void *)sec, opt ? opt : "");
	gpointer v =
	    config_lines ? g_hash_table_lookup(config_lines, key) : NULL;

	g_free(key);
	return v != NULL ? GPOINTER_TO_INT(v) : 0;
}

/* config_line - the line of option opt of section sec (the root's
 * options with sec = the root), else the section's own; 0 if unknown */
static int
config_line(cfg_t *sec, const char *opt)
{
	int line = config_noted_line(sec, opt);

	if (line > 0)
		return line;
	return sec != NULL && sec->line > 0 && sec->name != NULL &&
		       strcmp(sec->name, "root") != 0
		   ? sec->line
		   : 0;
}

/* config_fail - *error_r = "FILE:LINE: message" for an option found bad
 * after the parse, LINE where it was set (or its section's) */
static void G_GNUC_PRINTF(5, 6)
    config_fail(char **error_r, const struct triage_config *cf, cfg_t *sec,
		const char *opt, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int line = config_line(sec, opt);

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	*error_r = line > 0 ? g_strdup_printf("%s:%d: %s", cf->name, line, msg)
			    : g_strdup_printf("%s: %s", cf->name, msg);
	g_free(msg);
}

static const struct config_facility {
	const char *name;
	int value;
} facilities[] = {
    {"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"user", LOG_USER},
    {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
    {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

/* config_facility - syslog facility by name, -1 if unknown */
static int
config_facility(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(facilities); i++)
		if (g_ascii_strcasecmp(name, facilities[i].name) == 0)
			return facilities[i].value;
	return -1;
}

/* config_parse_socket - check a libmilter socket spec; 0 if good */
int
config_parse_socket(const char *spec, char **error_r)
{
	const char *p;

	if (g_str_has_prefix(spec, "unix:") ||
	    g_str_has_prefix(spec, "local:")) {
		p = strchr(spec, ':') + 1;
		if (*p != '/') {
			*error_r = g_strdup_printf(
			    "socket \"%s\": path must be absolute", spec);
			return -1;
		}
		if (strlen(p) >= 100) {
			*error_r = g_strdup_printf(
			    "socket \"%s\": path too long", spec);
			return -1;
		}
		return 0;
	}
	if (g_str_has_prefix(spec, "inet:") ||
	    g_str_has_prefix(spec, "inet6:")) {
		char *end;
		long port;

		p = strchr(spec, ':') + 1;
		errno = 0;
		port = strtol(p, &end, 10);
		if (end == p || errno != 0 || port < 1 || port > 65535 ||
		    (*end != '\0' && *end != '@') ||
		    (*end == '@' && end[1] == '\0')) {
			*error_r = g_strdup_printf(
			    "socket \"%s\": expected inet:PORT@HOST with "
			    "PORT 1-65535",
			    spec);
			return -1;
		}
		return 0;
	}
	*error_r = g_strdup_printf("socket \"%s\": expected unix:/path, "
				   "local:/path, inet:port@host or "
				   "inet6:port@host",
				   spec);
	return -1;
}

/* validate_socket - libconfuse callback for "socket" */
static int
validate_socket(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);
	char *err = NULL;

	if (v == NULL || config_parse_socket(v, &err) == 0)
		return 0;
	cfg_error(cfg, "%s", err);
	g_free(err);
	return -1;
}

/* validate_facility - libconfuse callback for "syslog_facility" */
static int
validate_facility(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (v != NULL && config_facility(v) < 0) {
		cfg_error(cfg,
			  "syslog_facility \"%s\": expected mail, daemon, "
			  "user or local0..local7",
			  v);
		return -1;
	}
	return 0;
}

/* validate_on_error - libconfuse callback for "on_error" */
static int
validate_on_error(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (v != NULL && strcmp(v, "accept") != 0 &&
	    strcmp(v, "tempfail") != 0) {
		cfg_error(cfg, "on_error \"%s\": expected accept or tempfail",
			  v);
		return -1;
	}
	return 0;
}

/* validate_socket_mode - octal permission string like "0660" */
static int
validate_socket_mode(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);
	char *end;
	long m;

	if (v == NULL)
		return 0;
	m = strtol(v, &end, 8);
	if (*v == '\0' || *end != '\0' || m < 0 || m > 0777) {
		cfg_error(cfg,
			  "socket_mode \"%s\": expected an octal mode "
			  "such as \"0660\"",
			  v);
		return -1;
	}
	return 0;
}

/* validate_range - shared check for positive integers */
static int
validate_range(cfg_t *cfg, cfg_opt_t *opt, long lo, long hi)
{
	long v = cfg_opt_getnint(opt, 0);

	if (v < lo || v > hi) {
		cfg_error(cfg, "%s = %ld: must be between %ld and %ld",
			  cfg_opt_name(opt), v, lo, hi);
		return -1;
	}
	return 0;
}

/* config_token_ok - a flag or route name: header-safe lowercase token */
static int
config_token_ok(const char *v)
{
	if (v == NULL || *v == '\0' || strlen(v) > 40)
		return 0;
	for (const char *p = v; *p; p++)
		if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) && *p != '-' &&
		    *p != '_')
			return 0;
	return 1;
}

/* validate_category - a category section, checked when it closes */
static int
validate_category(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t *sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);
	const char *flag = cfg_getstr(sec, "flag");
	const char *route = cfg_getstr(sec, "route");

	if (!config_token_ok(cfg_title(sec))) {
		cfg_error(cfg,
			  "category \"%s\": name must be 1 to 40 lowercase "
			  "letters, digits, - or _",
			  cfg_title(sec));
		return -1;
	}
	if (flag != NULL && !config_token_ok(flag)) {
		cfg_error(cfg,
			  "category %s: flag \"%s\" must be 1 to 40 lowercase "
			  "letters, digits, - or _",
			  cfg_title(sec), flag);
		return -1;
	}
	if (route != NULL && *route != '\0' && !config_token_ok(route)) {
		cfg_error(cfg,
			  "category %s: route \"%s\" must be 1 to 40 lowercase "
			  "letters, digits, - or _",
			  cfg_title(sec), route);
		return -1;
	}
	if (cfg_size(sec, "threshold") > 0 &&
	    !(cfg_getfloat(sec, "threshold") > 0)) {
		cfg_error(cfg, "category %s: threshold must be above 0",
			  cfg_title(sec));
		return -1;
	}
	return 0;
}

/* validate_route - a route section's name */
static int
validate_route(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t *sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);

	if (!config_token_ok(cfg_title(sec))) {
		cfg_error(
		    cfg,
		    "route \"%s\": name must be 1 to 40 lowercase letters, "
		    "digits, - or _",
		    cfg_title(sec));
		return -1;
	}
	return 0;
}

/* validate_template_name - a template is NAME.txt in the templates
 * directory: a token, so that it cannot name a file elsewhere */
static int
validate_template_name(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (v != NULL && *v != '\0' && !config_token_ok(v)) {
		cfg_error(cfg,
			  "%s%s%s: %s \"%s\": name must be 1 to 40 lowercase "
			  "letters, digits, - or _",
			  cfg->name, cfg_title(cfg) ? " " : "",
			  cfg_title(cfg) ? cfg_title(cfg) : "",
			  cfg_opt_name(opt), v);
		return -1;
	}
	return 0;
}

/* The integer keys with a plain range, and why each bound is there. */
static const struct {
	const char *path; /* for cfg_set_validate_func() */
	long lo, hi;
} config_ranges[] = {
    /* 4 KiB minimum: below that not even the headers fit */
    {"max_scan_bytes", 4096, 64L * 1024 * 1024},
    {"max_text_bytes", 4096, 64L * 1024 * 1024},
    {"max_mime_depth", 1, 100},
    {"max_mime_parts", 1, INT_MAX},
    {"scan_timeout_ms", 10, 600000},
    {"max_headers", 10, 1000000},
    /* 1 KiB minimum: Subject, From and Message-ID must fit */
    {"max_header_bytes", 1024, 64L * 1024 * 1024},
    {"max_tokens", 100, 100000000},
    /* PCRE2's own defaults are 10000000 each; below 1000 nothing matches */
    {"regex_match_limit", 1000, 100000000},
    {"regex_depth_limit", 1000, 100000000},
    /* 0 = one per CPU */
    {"max_concurrent_scans", 0, 4096},
    {"length|long_words", 1, INT_MAX},
    {"length|long_paragraphs", 1, INT_MAX},
    /* kept in int and unsigned: what does not fit must not wrap */
    {"category|priority", -1000000, 1000000},
    {"reply|max_per_hour", 0, 100000000},
    {"frequent|messages", 0, 100000000},
};

/* validate_finite - a number option: "nan" and "inf" parse as numbers
 * (strtod) but no comparison with a threshold can use them */
static int
validate_finite(cfg_t *cfg, cfg_opt_t *opt)
{
	double v = cfg_opt_getnfloat(opt, 0);

	if (!isfinite(v)) {
		cfg_error(cfg, "%s = %g: must be a finite number",
			  cfg_opt_name(opt), v);
		return -1;
	}
	return 0;
}

/* 0 (never spill) or at least 4 KiB. */
static int
validate_memory_bytes(cfg_t *cfg, cfg_opt_t *opt)
{
	if (cfg_opt_getnint(opt, 0) == 0)
		return 0;
	return validate_range(cfg, opt, 4096, 64L * 1024 * 1024);
}

static int validate_duration(cfg_t *cfg, cfg_opt_t *opt);

/* validate_stats_listen - a numeric address or a port alone */
static int
validate_stats_listen(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *spec = cfg_opt_getnstr(opt, 0);
	char *err = NULL;

	if (spec == NULL || *spec == '\0')
		return 0;
	if (stats_listen_check(spec, &err) < 0) {
		cfg_error(cfg, "%s", err);
		g_free(err);
		return -1;
	}
	return 0;
}

/* validate_hosts - every internal_hosts entry parses */
static int
validate_hosts(cfg_t *cfg, cfg_opt_t *opt)
{
	for (unsigned i = 0; i < cfg_opt_size(opt); i++) {
		const char *spec = cfg_opt_getnstr(opt, i);
		struct skip_nets nets;
		char *err = NULL;
		int rc = skip_nets_parse(&spec, 1, &nets, &err);

		skip_nets_clear(&nets);
		if (rc != 0) {
			cfg_error(cfg, "internal_hosts: %s", err);
			g_free(err);
			return -1;
		}
	}
	return 0;
}

/* validate_skipped - what skipped mail carries */
static int
validate_skipped(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (v != NULL && strcmp(v, "flag") != 0 && strcmp(v, "none") != 0) {
		cfg_error(cfg, "skipped_headers \"%s\": expected flag or none",
			  v);
		return -1;
	}
	return 0;
}

/* validate_route_address - an add_recipient or redirect entry: one
 * bare address, as the MTA takes it (a list calls back per element) */
static int
validate_route_address(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *a = cfg_opt_size(opt) > 0
			    ? cfg_opt_getnstr(opt, cfg_opt_size(opt) - 1)
			    : NULL;

	if (a != NULL && (strchr(a, '@') == NULL || strpbrk(a, " <>,\t\r\n"))) {
		cfg_error(cfg, "route %s: %s \"%s\" is not an address",
			  cfg_title(cfg), cfg_opt_name(opt), a);
		return -1;
	}
	return 0;
}

/* validate_quarantine - the reason goes into a header: one line */
static int
validate_quarantine(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	for (const char *p = v ? v : ""; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			cfg_error(cfg,
				  "route %s: quarantine reason has a control "
				  "character",
				  cfg_title(cfg));
			return -1;
		}
	return 0;
}

/* The options checked while parsing, and those whose line is only noted
 * (fn NULL) for a check after it; config_ranges come on top. */
static const struct {
	const char *path;
	cfg_validate_callback_t fn;
} config_validators[] = {
    {"socket", validate_socket},
    {"socket_mode", validate_socket_mode},
    {"syslog_facility", validate_facility},
    {"on_error", validate_on_error},
    {"memory_buffer_bytes", validate_memory_bytes},
    {"category", validate_category},
    {"route", validate_route},
    {"reply|interval", validate_duration},
    {"reply|timeout", validate_duration},
    {"reply|drain", validate_duration},
    {"frequent|window", validate_duration},
    {"internal_hosts", validate_hosts},
    {"stats_listen", validate_stats_listen},
    {"skipped_headers", validate_skipped},
    {"category|threshold", validate_finite},
    {"category|route", NULL},
    {"model|weight", validate_finite},
    {"model|threshold", validate_finite},
    {"route|add_recipient", validate_route_address},
    {"route|redirect", validate_route_address},
    {"route|quarantine", validate_quarantine},
    {"route|template", validate_template_name},
    {"reply|default_template", validate_template_name},
    {"reply|templates", NULL},
    {"rules", NULL},
    {"store", NULL},
    {"store_key_file", NULL},
    {"reply|enable", NULL},
    {"reply|transport", NULL},
    {"signing|key_id", NULL},
    {"signing|key_file", NULL},
    {"signing|verify_keys", NULL},
    {"model|file", NULL},
    {"model|category", NULL},
};

/* config_path_is - whether path ("opt" or "section|opt") names opt of
 * cfg (a section's cfg_t is named after its section, the top "root") */
static int
config_path_is(const char *path, cfg_t *cfg, cfg_opt_t *opt)
{
	const char *bar = strchr(path, '|');
	int top = strcmp(cfg->name, "root") == 0;

	if (bar == NULL)
		return top && strcmp(path, cfg_opt_name(opt)) == 0;
	return !top && strncmp(path, cfg->name, (size_t)(bar - path)) == 0 &&
	       cfg->name[bar - path] == '\0' &&
	       strcmp(bar + 1, cfg_opt_name(opt)) == 0;
}

/* config_validate - libconfuse callback for every option listed above:
 * note its line, then run its check */
static int
config_validate(cfg_t *cfg, cfg_opt_t *opt)
{
	config_note_line(cfg, opt);
	for (size_t i = 0; i < G_N_ELEMENTS(config_validators); i++)
		if (config_path_is(config_validators[i].path, cfg, opt))
			return config_validators[i].fn
				   ? config_validators[i].fn(cfg, opt)
				   : 0;
	for (size_t i = 0; i < G_N_ELEMENTS(config_ranges); i++)
		if (config_path_is(config_ranges[i].path, cfg, opt))
			return validate_range(cfg, opt, config_ranges[i].lo,
					      config_ranges[i].hi);
	return 0;
}

/* config_opts - the schema; also documented in triage-milter.conf(5) */
static cfg_t *
config_schema(void)
{
	static cfg_opt_t length_opts[] = {
	    CFG_INT("long_words", CONFIG_DEF_LONG_WORDS, CFGF_NONE),
	    CFG_INT("long_paragraphs", CONFIG_DEF_LONG_PARAGRAPHS, CFGF_NONE),
	    CFG_END(),
	};
	static cfg_opt_t category_opts[] = {
	    CFG_FLOAT("threshold", CONFIG_DEF_THRESHOLD, CFGF_NODEFAULT),
	    CFG_STR("flag", NULL, CFGF_NODEFAULT),
	    CFG_STR("route", NULL, CFGF_NODEFAULT),
	    CFG_INT("priority", 0, CFGF_NODEFAULT),
	    CFG_END(),
	};
	static cfg_opt_t route_opts[] = {
	    CFG_STR("describe", "", CFGF_NONE),
	    CFG_STR("template", NULL, CFGF_NODEFAULT),
	    CFG_STR_LIST("add_recipient", NULL, CFGF_NONE),
	    CFG_STR_LIST("redirect", NULL, CFGF_NONE),
	    CFG_STR("quarantine", "", CFGF_NONE),
	    CFG_END(),
	};
	static cfg_opt_t signing_opts[] = {
	    CFG_STR("key_id", "", CFGF_NONE),
	    CFG_STR("key_file", "", CFGF_NONE),
	    CFG_STR_LIST("verify_keys", NULL, CFGF_NONE),
	    CFG_END(),
	};
	static cfg_opt_t model_opts[] = {
	    CFG_STR("file", "", CFGF_NONE),
	    CFG_STR("category", "abusive", CFGF_NONE),
	    CFG_FLOAT("weight", 3.0, CFGF_NONE),
	    CFG_FLOAT("threshold", 0.9, CFGF_NONE),
	    CFG_END(),
	};
	static cfg_opt_t frequent_opts[] = {
	    CFG_INT("messages", 0, CFGF_NONE),
	    CFG_STR("window", "24h", CFGF_NONE),
	    CFG_END(),
	};
	static cfg_opt_t reply_opts[] = {
	    CFG_BOOL("enable", cfg_false, CFGF_NONE),
	    CFG_STR_LIST("addresses", NULL, CFGF_NONE),
	    CFG_STR_LIST("own_addresses", NULL, CFGF_NONE),
	    CFG_STR("from", "", CFGF_NONE),
	    CFG_STR("support_name", "our support team", CFGF_NONE),
	    CFG_STR("reply_within", "one business day", CFGF_NONE),
	    CFG_STR("interval", "1d", CFGF_NONE),
	    CFG_INT("max_per_hour", REPLY_DEF_MAX_PER_HOUR, CFGF_NONE),
	    CFG_BOOL("require_auth", cfg_false, CFGF_NONE),
	    CFG_STR_LIST("trusted_authserv_ids", NULL, CFGF_NONE),
	    CFG_STR_LIST("spam_headers", NULL, CFGF_NONE),
	    CFG_STR("envelope_sender", "", CFGF_NONE),
	    CFG_STR("message_id_domain", "", CFGF_NONE),
	    CFG_STR("default_template", "general", CFGF_NONE),
	    CFG_STR("templates", config_def_templates, CFGF_NONE),
	    CFG_STR("transport", "sendmail:/usr/sbin/sendmail", CFGF_NONE),
	    CFG_STR("smtp_user", "", CFGF_NONE),
	    CFG_STR("smtp_password", "", CFGF_NONE),
	    CFG_BOOL("require_tls", cfg_false, CFGF_NONE),
	    CFG_STR("timeout", "30s", CFGF_NONE),
	    CFG_STR("drain", "10s", CFGF_NONE),
	    CFG_END(),
	};
	static cfg_opt_t opts[] = {
	    CFG_STR("socket", CONFIG_DEF_SOCKET, CFGF_NONE),
	    CFG_STR("socket_mode", "0660", CFGF_NONE),
	    CFG_STR("user", "", CFGF_NONE),
	    CFG_BOOL("allow_root", cfg_false, CFGF_NONE),
	    CFG_STR("pidfile", "", CFGF_NONE),
	    CFG_STR("stats_listen", "", CFGF_NONE),
	    CFG_STR("syslog_facility", "mail", CFGF_NONE),
	    CFG_STR("on_error", "accept", CFGF_NONE),
	    CFG_INT("max_scan_bytes", CONFIG_DEF_MAX_SCAN_BYTES, CFGF_NONE),
	    CFG_INT("max_mime_depth", CONFIG_DEF_MAX_MIME_DEPTH, CFGF_NONE),
	    CFG_INT("max_mime_parts", CONFIG_DEF_MAX_MIME_PARTS, CFGF_NONE),
	    CFG_INT("max_text_bytes", CONFIG_DEF_MAX_TEXT_BYTES, CFGF_NONE),
	    CFG_INT("scan_timeout_ms", CONFIG_DEF_SCAN_TIMEOUT_MS, CFGF_NONE),
	    CFG_INT("max_headers", CONFIG_DEF_MAX_HEADERS, CFGF_NONE),
	    CFG_INT("max_header_bytes", CONFIG_DEF_MAX_HEADER_BYTES, CFGF_NONE),
	    CFG_INT("max_tokens", CONFIG_DEF_MAX_TOKENS, CFGF_NONE),
	    CFG_INT("regex_match_limit", RULES_REGEX_MATCH_LIMIT, CFGF_NONE),
	    CFG_INT("regex_depth_limit", RULES_REGEX_DEPTH_LIMIT, CFGF_NONE),
	    CFG_INT("memory_buffer_bytes", CONFIG_DEF_MEMORY_BUFFER_BYTES,
		    CFGF_NONE),
	    CFG_STR("temp_dir", "", CFGF_NONE),
	    CFG_INT("max_concurrent_scans", 0, CFGF_NONE),
	    CFG_SEC("length", length_opts, CFGF_NONE),
	    CFG_STR_LIST("rules", config_def_rules, CFGF_NONE),
	    CFG_SEC("category", category_opts,
		    CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	    CFG_SEC("route", route_opts,
		    CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	    CFG_SEC("reply", reply_opts, CFGF_NONE),
	    CFG_SEC("frequent", frequent_opts, CFGF_NONE),
	    CFG_SEC("signing", signing_opts, CFGF_NONE),
	    CFG_SEC("model", model_opts, CFGF_NONE),
	    CFG_STR_LIST("internal_hosts", NULL, CFGF_NONE),
	    CFG_BOOL("skip_authenticated", cfg_false, CFGF_NONE),
	    CFG_STR_LIST("skip_senders", NULL, CFGF_NONE),
	    CFG_STR_LIST("skip_recipients", NULL, CFGF_NONE),
	    CFG_STR("skipped_headers", "flag", CFGF_NONE),
	    CFG_STR("store", "", CFGF_NONE),
	    CFG_STR("store_key_file", "", CFGF_NONE),
	    CFG_END(),
	};
	cfg_t *cfg = cfg_init(opts, CFGF_NONE);

	if (cfg == NULL)
		return NULL;
	cfg_set_error_function(cfg, config_errfunc);
	for (size_t i = 0; i < G_N_ELEMENTS(config_validators); i++)
		cfg_set_validate_func(cfg, config_validators[i].path,
				      config_validate);
	for (size_t i = 0; i < G_N_ELEMENTS(config_ranges); i++)
		cfg_set_validate_func(cfg, config_ranges[i].path,
				      config_validate);
	return cfg;
}

/* config_categories - the shipped categories merged with the config's */
static void
config_categories(struct triage_config *cf, cfg_t *cfg)
{
	size_t n_def = G_N_ELEMENTS(config_def_categories);
	unsigned n_sec = cfg_size(cfg, "category");

	cf->categories = g_new0(struct config_category, n_def + n_sec);
	for (size_t i = 0; i < n_def; i++) {
		const __typeof__(config_def_categories[0]) *d =
		    &config_def_categories[i];
		struct config_category *c = &cf->categories[cf->n_categories++];

		c->name = g_strdup(d->name);
		c->threshold = d->threshold;
		c->flag = g_strdup(d->flag);
		c->route = g_strdup(d->route);
		c->priority = d->priority;
	}
	for (unsigned i = 0; i < n_sec; i++) {
		cfg_t *sec = cfg_getnsec(cfg, "category", i);
		const char *name = cfg_title(sec);
		struct config_category *c = NULL;

		for (size_t j = 0; j < cf->n_categories; j++)
			if (strcmp(cf->categories[j].name, name) == 0)
				c = &cf->categories[j];

		if (c == NULL) {
			c = &cf->categories[cf->n_categories++];
			c->name = g_strdup(name);
			c->flag = g_strdup(name);
			c->route = g_strdup("");
			c->threshold = CONFIG_DEF_THRESHOLD;
		}
		/* only what the section sets overrides a shipped category */
		if (cfg_size(sec, "threshold") > 0)
			c->threshold = cfg_getfloat(sec, "threshold");
		if (cfg_size(sec, "priority") > 0)
			c->priority = (int)cfg_getint(sec, "priority");
		if (cfg_getstr(sec, "flag") != NULL) {
			g_free(c->flag);
			c->flag = g_strdup(cfg_getstr(sec, "flag"));
		}
		if (cfg_getstr(sec, "route") != NULL) {
			g_free(c->route);
			c->route = g_strdup(cfg_getstr(sec, "route"));
		}
	}
}

/* config_route_add - a route by name, created empty on first use */
static struct config_route *
config_route_add(struct triage_config *cf, const char *name)
{
	struct config_route *r;

	for (size_t i = 0; i < cf->n_routes; i++)
		if (strcmp(cf->routes[i].name, name) == 0)
			return &cf->routes[i];
	r = &cf->routes[cf->n_routes++];
	r->name = g_strdup(name);
	r->template = g_strdup("");
	r->quarantine = g_strdup("");
	return r;
}

/* config_routes - the shipped routes, then the config's sections */
static void
config_routes(struct triage_config *cf, cfg_t *cfg)
{
	unsigned n_sec = cfg_size(cfg, "route");
	size_t n_def = G_N_ELEMENTS(config_def_routes);

	cf->routes = g_new0(struct config_route, n_def + n_sec);
	for (size_t i = 0; i < n_def; i++) {
		struct config_route *r =
		    config_route_add(cf, config_def_routes[i]);

		g_free(r->template);
		r->template = g_strdup(config_def_route_templates[i]);
	}
	for (unsigned i = 0; i < n_sec; i++) {
		cfg_t *sec = cfg_getnsec(cfg, "route", i);
		struct config_route *r = config_route_add(cf, cfg_title(sec));

		if (cfg_size(sec, "template") > 0) {
			g_free(r->template);
			r->template = g_strdup(cfg_getstr(sec, "template"));
		}
		for (unsigned j = 0; j < cfg_size(sec, "add_recipient"); j++)
			strvec_push(&r->add_recipient,
				    cfg_getnstr(sec, "add_recipient", j));
		for (unsigned j = 0; j < cfg_size(sec, "redirect"); j++)
			strvec_push(&r->redirect,
				    cfg_getnstr(sec, "redirect", j));
		g_free(r->quarantine);
		r->quarantine = g_strdup(cfg_getstr(sec, "quarantine"));
		if (r->add_recipient.n > 0 || r->redirect.n > 0)
			cf->route_actions |= CONFIG_ACT_ADDRCPT;
		if (r->redirect.n > 0)
			cf->route_actions |= CONFIG_ACT_DELRCPT;
		if (*r->quarantine != '\0')
			cf->route_actions |= CONFIG_ACT_QUARANTINE;
	}
}

/* config_route - the route called name, or NULL */
const struct config_route *
config_route(const struct triage_config *cf, const char *name)
{
	if (name != NULL)
		for (size_t i = 0; i < cf->n_routes; i++)
			if (strcmp(cf->routes[i].name, name) == 0)
				return &cf->routes[i];
	return NULL;
}

/* config_route_template - the template a route sends; NULL = none */
const char *
config_route_template(const struct triage_config *cf, const char *route)
{
	const struct config_route *r = config_route(cf, route);
	const char *t = r != NULL ? r->template : cf->default_template;

	return t != NULL && *t != '\0' ? t : NULL;
}

/* config_duration - "90", "90s", "30m", "24h", "1d" -> seconds; -1 bad */
static long
config_duration(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || errno != 0 || v < 0)
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		v *= 60;
		break;
	case 'h':
		v *= 3600;
		break;
	case 'd':
		v *= 86400;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	return v > INT_MAX ? -1 : v;
}

/* validate_duration - a duration option */
static int
validate_duration(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (v != NULL && config_duration(v) < 0) {
		cfg_error(cfg,
			  "%s = \"%s\": expected a duration such as "
			  "\"3600\", \"30m\", \"24h\" or \"1d\"",
			  cfg_opt_name(opt), v);
		return -1;
	}
	return 0;
}

/* config_strvec - a libconfuse list into a strvec, optionally lowercased */
static void
config_strvec(cfg_t *sec, const char *name, int lower, struct strvec *out)
{
	for (unsigned i = 0; i < cfg_size(sec, name); i++) {
		const char *v = cfg_getnstr(sec, name, i);

		if (lower)
			strvec_push_take(out, g_ascii_strdown(v, -1));
		else
			strvec_push(out, v);
	}
}

/* config_near - file as given when absolute, else relative to the
 * directory of the configuration at path */
static char *
config_near(const char *path, const char *file)
{
	char *dir, *out;

	if (g_path_is_absolute(file))
		return g_strdup(file);
	dir = g_path_get_dirname(path ? path : ".");
	out = g_build_filename(dir, file, NULL);
	g_free(dir);
	return out;
}

/* config_reply - the reply section into the policy and sender config */
static int
config_reply(struct triage_config *cf, cfg_t *cfg, const char *path,
	     char **error_r)
{
	cfg_t *r = cfg_getsec(cfg, "reply");
	const char *tdir = cfg_getstr(r, "templates");
	char *err = NULL;

	reply_policy_init(&cf->reply);
	cf->reply.enable = cfg_getbool(r, "enable");
	config_strvec(r, "addresses", 1, &cf->reply.addresses);
	config_strvec(r, "own_addresses", 1, &cf->reply.own_addresses);
	g_free(cf->reply.from);
	cf->reply.from = g_strdup(cfg_getstr(r, "from"));
	cf->reply.interval_s =
	    (unsigned)config_duration(cfg_getstr(r, "interval"));
	cf->reply.max_per_hour = (unsigned)cfg_getint(r, "max_per_hour");
	cf->reply.require_auth = cfg_getbool(r, "require_auth");
	config_strvec(r, "trusted_authserv_ids", 0,
		      &cf->reply.trusted_authserv_ids);
	if (cfg_size(r, "spam_headers") > 0) {
		strvec_clear(&cf->reply.spam_headers);
		config_strvec(r, "spam_headers", 0, &cf->reply.spam_headers);
	}
	g_free(cf->reply.envelope_sender);
	cf->reply.envelope_sender = g_strdup(cfg_getstr(r, "envelope_sender"));
	g_free(cf->reply.message_id_domain);
	cf->reply.message_id_domain =
	    g_strdup(cfg_getstr(r, "message_id_domain"));
	cf->support_name = g_strdup(cfg_getstr(r, "support_name"));
	cf->reply_within = g_strdup(cfg_getstr(r, "reply_within"));
	cf->default_template = g_strdup(cfg_getstr(r, "default_template"));
	cf->templates_dir = config_near(path, tdir);
	cf->sender.transport = g_strdup(cfg_getstr(r, "transport"));
	cf->sender.smtp_user = g_strdup(cfg_getstr(r, "smtp_user"));
	cf->sender.smtp_password = g_strdup(cfg_getstr(r, "smtp_password"));
	cf->sender.require_tls = cfg_getbool(r, "require_tls");
	cf->sender.timeout_s =
	    (unsigned)config_duration(cfg_getstr(r, "timeout"));
	cf->drain_s = (unsigned)config_duration(cfg_getstr(r, "drain"));
	if (cf->reply.enable && *cf->store_uri == '\0') {
		config_fail(
		    error_r, cf, r, "enable",
		    "reply: enable needs a store (store = \"lmdb:DIR\") "
		    "to remember whom it answered");
		return -1;
	}
	if (*cf->store_uri != '\0' && store_check(cf->store_uri, &err) != 0) {
		/* the backend's own parser: what -n passes, the daemon opens */
		config_fail(error_r, cf, cfg, "store", "store: %s", err);
		g_free(err);
		return -1;
	}
	if (g_str_has_prefix(cf->store_uri, "redis") &&
	    *cf->store_key_file == '\0') {
		config_fail(error_r, cf, cfg, "store",
			    "store \"%s\": a shared store needs store_key_file "
			    "(the same key on every host)",
			    cf->store_uri);
		return -1;
	}
	if (cf->frequent.messages > 0 && *cf->store_uri == '\0') {
		config_fail(
		    error_r, cf, cfg_getsec(cfg, "frequent"), "messages",
		    "frequent: counting messages needs a store (store = "
		    "\"lmdb:DIR\")");
		return -1;
	}
	if (cf->frequent.messages > 0 && cf->frequent.window_s == 0) {
		config_fail(error_r, cf, cfg_getsec(cfg, "frequent"), "window",
			    "frequent: window must be above 0");
		return -1;
	}
	if (cf->sender.timeout_s == 0) { /* max_per_hour: its range */
		config_fail(error_r, cf, r, "timeout",
			    "reply: timeout must be above 0");
		return -1;
	}
	if (reply_policy_check(&cf->reply, &err) != 0) {
		config_fail(error_r, cf, r, NULL, "reply: %s", err);
		g_free(err);
		return -1;
	}
	if (sender_check_transport(cf->sender.transport, &err) != 0) {
		config_fail(error_r, cf, r, "transport", "reply: %s", err);
		g_free(err);
		return -1;
	}
	return 0;
}

/* config_template_free - GDestroyNotify for the template table */
static void
config_template_free(gpointer t)
{
	template_free(t);
}

/* A template to load, and where the configuration names it. */
struct config_tpl_use {
	const char *name;
	cfg_t *sec;      /* the section that names it */
	const char *opt; /* the option, NULL for the section's line */
	char *what;      /* "route legal: template", ... */
};

/* config_template_uses - the templates the routes and the default name;
 * a shipped route's own template is named by the templates directory */
static GArray *
config_template_uses(const struct triage_config *cf, cfg_t *cfg)
{
	GArray *uses = g_array_new(FALSE, FALSE, sizeof(struct config_tpl_use));
	cfg_t *reply = cfg_getsec(cfg, "reply");
	struct config_tpl_use u;

	if (*cf->default_template != '\0') {
		u.name = cf->default_template;
		u.sec = reply;
		u.opt = config_noted_line(reply, "default_template") > 0
			    ? "default_template"
			    : "templates";
		u.what = g_strdup("reply: default_template");
		g_array_append_val(uses, u);
	}
	for (size_t i = 0; i < cf->n_routes; i++) {
		const struct config_route *r = &cf->routes[i];
		cfg_t *sec = cfg_gettsec(cfg, "route", r->name);

		if (*r->template == '\0')
			continue;
		u.name = r->template;
		if (sec != NULL && cfg_size(sec, "template") > 0) {
			u.sec = sec;
			u.opt = "template";
		} else {
			u.sec = reply;
			u.opt = "templates";
		}
		u.what = g_strdup_printf("route %s: template", r->name);
		g_array_append_val(uses, u);
	}
	return uses;
}

/* config_templates - load every template a route or the default names;
 * an error names the line that named it (FILE:LINE), then the template */
static int
config_templates(struct triage_config *cf, cfg_t *cfg, char **error_r)
{
	GArray *uses = config_template_uses(cf, cfg);
	int rc = 0;

	cf->templates = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					      config_template_free);
	for (guint i = 0; i < uses->len && rc == 0; i++) {
		const struct config_tpl_use *u =
		    &g_array_index(uses, struct config_tpl_use, i);
		char *file, *path, *err = NULL;
		struct template *t;

		if (g_hash_table_contains(cf->templates, u->name))
			continue;
		if (!config_token_ok(u->name)) {
			/* only a shipped name could get here: checked while
			 * parsing */
			config_fail(error_r, cf, u->sec, u->opt,
				    "%s \"%s\": name must be 1 to 40 "
				    "lowercase letters, digits, - or _",
				    u->what, u->name);
			rc = -1;
			break;
		}
		file = g_strconcat(u->name, ".txt", NULL);
		path = g_build_filename(cf->templates_dir, file, NULL);
		g_free(file);
		if (!cf->reply.enable &&
		    !g_file_test(path, G_FILE_TEST_EXISTS)) {
			/* acknowledgments off: missing templates do not matter
			 */
			g_free(path);
			continue;
		}
		t = template_load(path, &err);
		if (t == NULL && g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
			char *where = NULL;

			/* the mistake is in the template: its FILE:LINE
			 * first, then the line that names it */
			config_fail(&where, cf, u->sec, u->opt, "%s \"%s\"",
				    u->what, u->name);
			*error_r = g_strdup_printf("%s (%s)", err, where);
			g_free(where);
			g_free(err);
			rc = -1;
		} else if (t == NULL) {
			config_fail(error_r, cf, u->sec, u->opt,
				    "%s \"%s\": %s", u->what, u->name, err);
			g_free(err);
			rc = -1;
		} else
			g_hash_table_insert(cf->templates, g_strdup(u->name),
					    t);
		g_free(path);
	}
	for (guint i = 0; i < uses->len; i++)
		g_free(g_array_index(uses, struct config_tpl_use, i).what);
	g_array_free(uses, TRUE);
	return rc;
}

/* What made glob() give up: a directory it could not read. */
static __thread char config_glob_dir[512];
static __thread int config_glob_errno;

/* config_glob_err - glob()'s error callback: a directory that exists but
 * cannot be read (permission, I/O) stops the expansion, so that rules
 * cannot vanish quietly; a missing one only matches nothing */
static int
config_glob_err(const char *epath, int eerrno)
{
	if (eerrno == ENOENT || eerrno == ENOTDIR)
		return 0;
	g_strlcpy(config_glob_dir, epath, sizeof(config_glob_dir));
	config_glob_errno = eerrno;
	return 1;
}

/* config_rule_files - expand the rules globs (relative to the config);
 * an error names the line of the pattern (FILE:LINE) */
static int
config_rule_files(struct triage_config *cf, cfg_t *cfg, const char *path,
		  char **error_r)
{
	GPtrArray *files = g_ptr_array_new();
	int rc = 0;

	for (unsigned i = 0; i < cfg_size(cfg, "rules") && rc == 0; i++) {
		const char *pat = cfg_getnstr(cfg, "rules", i);
		char *full = config_near(path, pat);
		char *opt = g_strdup_printf("rules#%u", i);
		glob_t g;
		int grc;

		config_glob_dir[0] = '\0';
		config_glob_errno = 0;
		grc = glob(full, 0, config_glob_err, &g);

		if (grc == 0) {
			for (size_t j = 0; j < g.gl_pathc; j++)
				g_ptr_array_add(files, g_strdup(g.gl_pathv[j]));
		} else if (grc == GLOB_NOMATCH &&
			   strpbrk(full, "*?[") == NULL) {
			config_fail(error_r, cf, cfg, opt,
				    "rules file %s: no such file", full);
			rc = -1;
		} else if (grc == GLOB_ABORTED && config_glob_errno != 0) {
			config_fail(error_r, cf, cfg, opt,
				    "rules %s: cannot read directory %s: %s",
				    full, config_glob_dir,
				    g_strerror(config_glob_errno));
			rc = -1;
		} else if (grc != GLOB_NOMATCH) {
			config_fail(error_r, cf, cfg, opt,
				    "rules %s: cannot read", full);
			rc = -1;
		}
		if (grc == 0 || grc == GLOB_NOMATCH || grc == GLOB_ABORTED)
			globfree(&g);
		g_free(opt);
		g_free(full);
	}
	g_ptr_array_add(files, NULL);
	cf->n_rule_files = files->len - 1;
	cf->rule_files = (char **)g_ptr_array_free(files, FALSE);
	return rc;
}

/* config_check_rules - load the rules; every category must be defined
 * and every route a category names too (FILE:LINE of its route) */
static int
config_check_rules(struct triage_config *cf, cfg_t *cfg, char **error_r)
{
	const char **names;
	size_t n;

	for (size_t i = 0; i < cf->n_categories; i++) {
		const char *route = cf->categories[i].route;
		int known = *route == '\0';

		known = known || config_route(cf, route) != NULL;
		if (!known) {
			/* only a category section can name an unknown route */
			config_fail(error_r, cf,
				    cfg_gettsec(cfg, "category",
						cf->categories[i].name),
				    "route",
				    "category %s: route \"%s\" has no route "
				    "section",
				    cf->categories[i].name, route);
			return -1;
		}
	}
	if (cf->n_rule_files == 0)
		return 0;
	cf->rules = rules_load(cf->rule_files, cf->n_rule_files, error_r);
	if (cf->rules == NULL)
		return -1;
	rules_set_regex_limits(cf->rules, cf->regex_match_limit,
			       cf->regex_depth_limit);
	n = rules_categories(cf->rules, &names);
	for (size_t i = 0; i < n; i++) {
		const char *rule, *file;
		int line;

		if (config_category(cf, names[i]) != NULL)
			continue;
		/* name the first rule that uses it, where the mistake is */
		rules_category_user(cf->rules, names[i], &rule, &file, &line);
		*error_r = g_strdup_printf(
		    "%s:%d: %s: category \"%s\" is neither a shipped one nor "
		    "a category section of %s",
		    file, line, rule, names[i], cf->name);
		return -1;
	}
	return 0;
}

/* config_signing - load the signing and verification keys (a relative
 * key file is relative to the configuration, like rules and templates) */
static int
config_signing(struct triage_config *cf, cfg_t *cfg, char **error_r)
{
	cfg_t *sec = cfg_getsec(cfg, "signing");
	const char *kid = cfg_getstr(sec, "key_id");
	const char *file = cfg_getstr(sec, "key_file");
	unsigned n_verify = cfg_size(sec, "verify_keys");
	struct sign_key_spec *specs =
	    g_new0(struct sign_key_spec, n_verify + 1);
	char **split = g_new0(char *, n_verify + 1);
	char **near = g_new0(char *, n_verify + 1);
	char *key_file = NULL;
	size_t n = 0;
	char *err = NULL;
	int rc = 0;

	cf->sign_key_id = g_strdup(kid);
	if (*kid != '\0' || *file != '\0') {
		if (*kid == '\0' || *file == '\0') {
			config_fail(error_r, cf, sec,
				    *kid ? "key_id" : "key_file",
				    "signing: key_id and key_file go together");
			rc = -1;
			goto out;
		}
		specs[n].key_id = kid;
		specs[n++].key_file = key_file = config_near(cf->path, file);
	}
	/* older keys, "kid:/path", still verify (rotation) */
	for (unsigned i = 0; i < n_verify; i++) {
		const char *spec = cfg_getnstr(sec, "verify_keys", i);
		char *colon;

		split[i] = g_strdup(spec);
		colon = strchr(split[i], ':');
		if (colon == NULL) {
			config_fail(
			    error_r, cf, sec, "verify_keys",
			    "signing: verify_keys entry \"%s\": expected "
			    "\"kid:/path/to/key\"",
			    spec);
			rc = -1;
			goto out;
		}
		*colon = '\0';
		specs[n].key_id = split[i];
		near[i] = config_near(cf->path, colon + 1);
		specs[n++].key_file = near[i];
	}
	if (n == 0)
		goto out;
	cf->sign_keys = sign_keys_load(specs, n, *kid ? kid : NULL, &err);
	if (cf->sign_keys == NULL) {
		config_fail(error_r, cf, sec, NULL, "signing: %s", err);
		g_free(err);
		rc = -1;
	}
out:
	g_strfreev(near);
	g_free(key_file);
	for (unsigned i = 0; i < n_verify; i++)
		g_free(split[i]);
	g_free(split);
	g_free(specs);
	return rc;
}

/* config_model - load the learned model, if one is configured */
static int
config_model(struct triage_config *cf, cfg_t *cfg, const char *path,
	     char **error_r)
{
	cfg_t *sec = cfg_getsec(cfg, "model");
	const char *file = cfg_getstr(sec, "file");
	char *err = NULL;

	cf->model_category = g_strdup(cfg_getstr(sec, "category"));
	cf->model_weight = cfg_getfloat(sec, "weight");
	cf->model_threshold = cfg_getfloat(sec, "threshold");
	if (*file == '\0')
		return 0;
	cf->model_file = config_near(path, file);
	if (!(cf->model_threshold > 0 && cf->model_threshold < 1)) {
		config_fail(
		    error_r, cf, sec, "threshold",
		    "model: threshold = %g: must be above 0 and below 1",
		    cf->model_threshold);
		return -1;
	}
	if (config_category(cf, cf->model_category) == NULL) {
		config_fail(error_r, cf, sec, "category",
			    "model: category \"%s\" is not a category (the "
			    "shipped ones or a category section)",
			    cf->model_category);
		return -1;
	}
	cf->model = model_load(cf->model_file, &err);
	if (cf->model == NULL) {
		config_fail(error_r, cf, sec, "file", "model: %s", err);
		g_free(err);
		return -1;
	}
	return 0;
}

/* config_from_cfg - copy parsed values into a new snapshot */
static struct triage_config *
config_from_cfg(cfg_t *cfg, const char *path, const char *name, int with_rules,
		char **error_r)
{
	struct triage_config *cf = g_new0(struct triage_config, 1);
	cfg_t *len = cfg_getsec(cfg, "length");

	cf->refcount = 1;
	cf->path = g_strdup(path ? path : "(defaults)");
	cf->name = g_strdup(name ? name : cf->path);
	cf->socket = g_strdup(cfg_getstr(cfg, "socket"));
	cf->socket_mode = (int)strtol(cfg_getstr(cfg, "socket_mode"), NULL, 8);
	cf->user = g_strdup(cfg_getstr(cfg, "user"));
	cf->allow_root = cfg_getbool(cfg, "allow_root");
	/* relative like every other file name: to the configuration, not
	 * to "/" where the daemon runs */
	cf->pidfile = *cfg_getstr(cfg, "pidfile")
			  ? config_near(path, cfg_getstr(cfg, "pidfile"))
			  : g_strdup("");
	cf->stats_listen = g_strdup(cfg_getstr(cfg, "stats_listen"));
	cf->syslog_facility =
	    config_facility(cfg_getstr(cfg, "syslog_facility"));
	cf->on_error = strcmp(cfg_getstr(cfg, "on_error"), "tempfail") == 0
			   ? ON_ERROR_TEMPFAIL
			   : ON_ERROR_ACCEPT;
	cf->max_scan_bytes = (size_t)cfg_getint(cfg, "max_scan_bytes");
	cf->max_mime_depth = (unsigned)cfg_getint(cfg, "max_mime_depth");
	cf->max_mime_parts = (unsigned)cfg_getint(cfg, "max_mime_parts");
	cf->max_text_bytes = (size_t)cfg_getint(cfg, "max_text_bytes");
	cf->scan_timeout_ms = (unsigned)cfg_getint(cfg, "scan_timeout_ms");
	cf->max_headers = (size_t)cfg_getint(cfg, "max_headers");
	cf->max_header_bytes = (size_t)cfg_getint(cfg, "max_header_bytes");
	cf->max_tokens = (size_t)cfg_getint(cfg, "max_tokens");
	cf->regex_match_limit = (unsigned)cfg_getint(cfg, "regex_match_limit");
	cf->regex_depth_limit = (unsigned)cfg_getint(cfg, "regex_depth_limit");
	cf->memory_buffer_bytes =
	    (size_t)cfg_getint(cfg, "memory_buffer_bytes");
	cf->temp_dir = g_strdup(cfg_getstr(cfg, "temp_dir"));
	cf->max_concurrent_scans =
	    (unsigned)cfg_getint(cfg, "max_concurrent_scans");
	cf->long_words = (size_t)cfg_getint(len, "long_words");
	cf->long_paragraphs = (size_t)cfg_getint(len, "long_paragraphs");
	config_categories(cf, cfg);
	config_routes(cf, cfg);
	cf->frequent.messages =
	    (unsigned)cfg_getint(cfg_getsec(cfg, "frequent"), "messages");
	cf->frequent.window =
	    g_strdup(cfg_getstr(cfg_getsec(cfg, "frequent"), "window"));
	cf->frequent.window_s = (unsigned)config_duration(cf->frequent.window);
	{
		GPtrArray *hosts = g_ptr_array_new();
		char *err = NULL;

		for (unsigned i = 0; i < cfg_size(cfg, "internal_hosts"); i++)
			g_ptr_array_add(hosts,
					cfg_getnstr(cfg, "internal_hosts", i));
		/* validated while parsing: cannot fail here */
		(void)skip_nets_parse((const char *const *)hosts->pdata,
				      hosts->len, &cf->internal_hosts, &err);
		g_free(err);
		g_ptr_array_free(hosts, TRUE);
	}
	cf->skip_authenticated = cfg_getbool(cfg, "skip_authenticated");
	config_strvec(cfg, "skip_senders", 0, &cf->skip_senders);
	config_strvec(cfg, "skip_recipients", 0, &cf->skip_recipients);
	cf->skipped_flag =
	    strcmp(cfg_getstr(cfg, "skipped_headers"), "flag") == 0;
	cf->store_uri = g_strdup(cfg_getstr(cfg, "store"));
	cf->store_key_file =
	    *cfg_getstr(cfg, "store_key_file")
		? config_near(path, cfg_getstr(cfg, "store_key_file"))
		: g_strdup("");
	if (config_reply(cf, cfg, path, error_r) != 0)
		return config_unref(cf);
	if (with_rules && (config_rule_files(cf, cfg, path, error_r) != 0 ||
			   config_check_rules(cf, cfg, error_r) != 0 ||
			   config_templates(cf, cfg, error_r) != 0 ||
			   config_signing(cf, cfg, error_r) != 0 ||
			   config_model(cf, cfg, path, error_r) != 0))
		return config_unref(cf);
	return cf;
}

/* config_category - the category called name, or NULL */
const struct config_category *
config_category(const struct triage_config *cf, const char *name)
{
	for (size_t i = 0; i < cf->n_categories; i++)
		if (strcmp(cf->categories[i].name, name) == 0)
			return &cf->categories[i];
	return NULL;
}

/* config_load - parse path; NULL and *error_r on failure */
struct triage_config *
config_load(const char *path, char **error_r)
{
	struct triage_config *cf = NULL;
	GString *errbuf = g_string_new(NULL);
	cfg_t *cfg = config_schema();
	int rc;

	*error_r = NULL;
	if (cfg == NULL) {
		*error_r = g_strdup("out of memory");
		g_string_free(errbuf, TRUE);
		return NULL;
	}
	config_errbuf = errbuf;
	config_root = cfg;
	config_lines =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	rc = cfgfile_parse(cfg, path, error_r);
	config_errbuf = NULL;
	config_root = NULL;
	if (rc == CFG_FILE_ERROR) {
		; /* *error_r says why */
	} else if (rc != CFG_SUCCESS) {
		if (errbuf->len == 0)
			g_string_printf(errbuf, "%s: parse error", path);
		*error_r = g_strdup(errbuf->str);
	} else {
		/* absolute, so that what is relative to it stays right after
		 * the daemon's chdir("/") and at every reload */
		char *abs = g_canonicalize_filename(path, NULL);

		/* messages name it as given, as the parse's errors do */
		cf = config_from_cfg(cfg, abs, path, 1, error_r);
		g_free(abs);
	}
	g_hash_table_destroy(config_lines);
	config_lines = NULL;
	g_string_free(errbuf, TRUE);
	cfg_free(cfg);
	return cf;
}

/* config_default - the built-in defaults, without rule files (tests, -t) */
struct triage_config *
config_default(void)
{
	cfg_t *cfg = config_schema();
	struct triage_config *cf;
	char *error = NULL;

	if (cfg == NULL)
		return NULL;
	cf = config_from_cfg(cfg, NULL, NULL, 0, &error);
	g_free(error);
	cfg_free(cfg);
	return cf;
}

/* config_str_differs - whether two optional strings differ */
static int
config_str_differs(const char *a, const char *b)
{
	return g_strcmp0(a, b) != 0;
}

char *
config_restart_keys(const struct triage_config *was,
		    const struct triage_config *now, int socket_fixed)
{
	const struct sender_config *ws = &was->sender, *ns = &now->sender;
	struct {
		const char *key;
		int differs;
	} keys[] = {
	    {"socket",
	     !socket_fixed && config_str_differs(was->socket, now->socket)},
	    {"socket_mode", was->socket_mode != now->socket_mode},
	    {"user", config_str_differs(was->user, now->user)},
	    {"allow_root", was->allow_root != now->allow_root},
	    {"pidfile", config_str_differs(was->pidfile, now->pidfile)},
	    {"syslog_facility", was->syslog_facility != now->syslog_facility},
	    {"store", config_str_differs(was->store_uri, now->store_uri)},
	    {"store_key_file",
	     config_str_differs(was->store_key_file, now->store_key_file)},
	    {"transport", config_str_differs(ws->transport, ns->transport)},
	    {"smtp_user", config_str_differs(ws->smtp_user, ns->smtp_user)},
	    {"smtp_password",
	     config_str_differs(ws->smtp_password, ns->smtp_password)},
	    {"require_tls", ws->require_tls != ns->require_tls},
	    {"timeout", ws->timeout_s != ns->timeout_s},
	    {"drain", was->drain_s != now->drain_s},
	    {"stats_listen",
	     config_str_differs(was->stats_listen, now->stats_listen)},
	};
	GString *out = g_string_new(NULL);

	for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
		if (keys[i].differs)
			g_string_append_printf(
			    out, "%s%s", out->len ? ", " : "", keys[i].key);
	if (now->reply.enable && !was->reply.enable)
		g_string_append_printf(out, "%sacknowledgments switched on",
				       out->len ? ", " : "");
	if (out->len == 0) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}

char *
config_model_lost_rules(const struct triage_config *cf)
{
	const char *names =
	    cf->model != NULL ? model_rule_names(cf->model) : NULL;
	GString *lost;
	char **v;

	if (names == NULL)
		return NULL;
	lost = g_string_new(NULL);
	v = g_strsplit(names, " ", -1);
	for (char **n = v; *n != NULL; n++)
		if (**n != '\0' &&
		    (cf->rules == NULL || !rules_has(cf->rules, *n)))
			g_string_append_printf(lost, "%s%s",
					       lost->len ? " " : "", *n);
	g_strfreev(v);
	if (lost->len == 0) {
		g_string_free(lost, TRUE);
		return NULL;
	}
	return g_string_free(lost, FALSE);
}

/* config_ref - take a reference */
struct triage_config *
config_ref(struct triage_config *cf)
{
	if (cf != NULL)
		__atomic_add_fetch(&cf->refcount, 1, __ATOMIC_ACQ_REL);
	return cf;
}

/* config_unref - drop a reference; frees on the last one; returns NULL */
struct triage_config *
config_unref(struct triage_config *cf)
{
	if (cf == NULL ||
	    __atomic_sub_fetch(&cf->refcount, 1, __ATOMIC_ACQ_REL) > 0)
		return NULL;
	g_free(cf->path);
	g_free(cf->name);
	g_free(cf->socket);
	g_free(cf->user);
	g_free(cf->pidfile);
	g_free(cf->stats_listen);
	g_free(cf->temp_dir);
	for (size_t i = 0; i < cf->n_categories; i++) {
		g_free(cf->categories[i].name);
		g_free(cf->categories[i].flag);
		g_free(cf->categories[i].route);
	}
	g_free(cf->categories);
	for (size_t i = 0; i < cf->n_routes; i++) {
		g_free(cf->routes[i].name);
		g_free(cf->routes[i].template);
		strvec_clear(&cf->routes[i].add_recipient);
		strvec_clear(&cf->routes[i].redirect);
		g_free(cf->routes[i].quarantine);
	}
	g_free(cf->routes);
	g_free(cf->frequent.window);
	skip_nets_clear(&cf->internal_hosts);
	sign_keys_free(cf->sign_keys);
	model_free(cf->model);
	g_free(cf->model_file);
	g_free(cf->model_category);
	g_free(cf->sign_key_id);
	strvec_clear(&cf->skip_senders);
	strvec_clear(&cf->skip_recipients);
	reply_policy_clear(&cf->reply);
	g_free(cf->support_name);
	g_free(cf->reply_within);
	g_free(cf->default_template);
	g_free(cf->templates_dir);
	if (cf->templates != NULL)
		g_hash_table_destroy(cf->templates);
	g_free(cf->sender.transport);
	g_free(cf->sender.smtp_user);
	g_free(cf->sender.smtp_password);
	g_free(cf->store_uri);
	g_free(cf->store_key_file);
	g_strfreev(cf->rule_files);
	rules_free(cf->rules);
	g_free(cf);
	return NULL;
}
