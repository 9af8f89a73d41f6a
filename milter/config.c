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
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <confuse.h>
#include <glib.h>

#include "config.h"

#define CONFIG_DEF_SOCKET "inet:8894@127.0.0.1"

/*
 * Errors of the parse running in this thread.  A section's cfg_t is not the
 * root's, so the buffer cannot hang off the cfg_t; reloads may run in any
 * thread, hence thread-local.
 */
static __thread GString *config_errbuf;
static __thread cfg_t *config_root; /* sections do not know file:line */

/* config_errfunc - collect libconfuse errors as "file:line: message" */
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

static const struct {
	const char *name;
	int value;
} facilities[] = {
	{"mail", LOG_MAIL},	{"daemon", LOG_DAEMON}, {"user", LOG_USER},
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

	if (g_str_has_prefix(spec, "unix:") || g_str_has_prefix(spec, "local:")) {
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
	if (g_str_has_prefix(spec, "inet:") || g_str_has_prefix(spec, "inet6:")) {
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
		cfg_error(cfg, "socket_mode \"%s\": expected an octal mode "
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

/* 4 KiB minimum: below that not even the headers fit. */
static int
validate_scan_bytes(cfg_t *cfg, cfg_opt_t *opt)
{
	return validate_range(cfg, opt, 4096, 64L * 1024 * 1024);
}

static int
validate_positive(cfg_t *cfg, cfg_opt_t *opt)
{
	return validate_range(cfg, opt, 1, INT_MAX);
}

static int
validate_depth(cfg_t *cfg, cfg_opt_t *opt)
{
	return validate_range(cfg, opt, 1, 100);
}

static int
validate_timeout(cfg_t *cfg, cfg_opt_t *opt)
{
	return validate_range(cfg, opt, 10, 600000);
}

/* config_opts - the schema; also documented in triage-milter.conf(5) */
static cfg_t *
config_schema(void)
{
	static cfg_opt_t length_opts[] = {
		CFG_INT("long_words", CONFIG_DEF_LONG_WORDS, CFGF_NONE),
		CFG_INT("long_paragraphs", CONFIG_DEF_LONG_PARAGRAPHS,
			CFGF_NONE),
		CFG_END(),
	};
	static cfg_opt_t opts[] = {
		CFG_STR("socket", CONFIG_DEF_SOCKET, CFGF_NONE),
		CFG_STR("socket_mode", "0660", CFGF_NONE),
		CFG_STR("user", "", CFGF_NONE),
		CFG_STR("pidfile", "", CFGF_NONE),
		CFG_STR("syslog_facility", "mail", CFGF_NONE),
		CFG_STR("on_error", "accept", CFGF_NONE),
		CFG_INT("max_scan_bytes", CONFIG_DEF_MAX_SCAN_BYTES, CFGF_NONE),
		CFG_INT("max_mime_depth", CONFIG_DEF_MAX_MIME_DEPTH, CFGF_NONE),
		CFG_INT("max_mime_parts", CONFIG_DEF_MAX_MIME_PARTS, CFGF_NONE),
		CFG_INT("max_text_bytes", CONFIG_DEF_MAX_TEXT_BYTES, CFGF_NONE),
		CFG_INT("scan_timeout_ms", CONFIG_DEF_SCAN_TIMEOUT_MS,
			CFGF_NONE),
		CFG_SEC("length", length_opts, CFGF_NONE),
		CFG_END(),
	};
	cfg_t *cfg = cfg_init(opts, CFGF_NONE);

	if (cfg == NULL)
		return NULL;
	cfg_set_error_function(cfg, config_errfunc);
	cfg_set_validate_func(cfg, "socket", validate_socket);
	cfg_set_validate_func(cfg, "socket_mode", validate_socket_mode);
	cfg_set_validate_func(cfg, "syslog_facility", validate_facility);
	cfg_set_validate_func(cfg, "on_error", validate_on_error);
	cfg_set_validate_func(cfg, "max_scan_bytes", validate_scan_bytes);
	cfg_set_validate_func(cfg, "max_mime_depth", validate_depth);
	cfg_set_validate_func(cfg, "max_mime_parts", validate_positive);
	cfg_set_validate_func(cfg, "max_text_bytes", validate_scan_bytes);
	cfg_set_validate_func(cfg, "scan_timeout_ms", validate_timeout);
	cfg_set_validate_func(cfg, "length|long_words", validate_positive);
	cfg_set_validate_func(cfg, "length|long_paragraphs",
			      validate_positive);
	return cfg;
}

/* config_from_cfg - copy parsed values into a new snapshot */
static struct triage_config *
config_from_cfg(cfg_t *cfg, const char *path)
{
	struct triage_config *cf = g_new0(struct triage_config, 1);
	cfg_t *len = cfg_getsec(cfg, "length");

	cf->refcount = 1;
	cf->path = g_strdup(path ? path : "(defaults)");
	cf->socket = g_strdup(cfg_getstr(cfg, "socket"));
	cf->socket_mode = (int)strtol(cfg_getstr(cfg, "socket_mode"), NULL, 8);
	cf->user = g_strdup(cfg_getstr(cfg, "user"));
	cf->pidfile = g_strdup(cfg_getstr(cfg, "pidfile"));
	cf->syslog_facility = config_facility(cfg_getstr(cfg, "syslog_facility"));
	cf->on_error = strcmp(cfg_getstr(cfg, "on_error"), "tempfail") == 0
			       ? ON_ERROR_TEMPFAIL
			       : ON_ERROR_ACCEPT;
	cf->max_scan_bytes = (size_t)cfg_getint(cfg, "max_scan_bytes");
	cf->max_mime_depth = (unsigned)cfg_getint(cfg, "max_mime_depth");
	cf->max_mime_parts = (unsigned)cfg_getint(cfg, "max_mime_parts");
	cf->max_text_bytes = (size_t)cfg_getint(cfg, "max_text_bytes");
	cf->scan_timeout_ms = (unsigned)cfg_getint(cfg, "scan_timeout_ms");
	cf->long_words = (size_t)cfg_getint(len, "long_words");
	cf->long_paragraphs = (size_t)cfg_getint(len, "long_paragraphs");
	return cf;
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
	rc = cfg_parse(cfg, path);
	config_errbuf = NULL;
	config_root = NULL;
	if (rc == CFG_FILE_ERROR) {
		*error_r = g_strdup_printf("%s: cannot read: %s", path,
					   g_strerror(errno));
	} else if (rc != CFG_SUCCESS) {
		if (errbuf->len == 0)
			g_string_printf(errbuf, "%s: parse error", path);
		*error_r = g_strdup(errbuf->str);
	} else {
		cf = config_from_cfg(cfg, path);
	}
	g_string_free(errbuf, TRUE);
	cfg_free(cfg);
	return cf;
}

/* config_default - a snapshot of the built-in defaults (tests, -t) */
struct triage_config *
config_default(void)
{
	cfg_t *cfg = config_schema();
	struct triage_config *cf;

	if (cfg == NULL)
		return NULL;
	cf = config_from_cfg(cfg, NULL);
	cfg_free(cfg);
	return cf;
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
	g_free(cf->socket);
	g_free(cf->user);
	g_free(cf->pidfile);
	g_free(cf);
	return NULL;
}
