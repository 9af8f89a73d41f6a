/*
 * offline.c - the -t mode: messages from files, maildirs, mboxes and
 * standard input ("-")
 *
 * Nothing here differs from the daemon but where the bytes come from:
 * the same max_scan_bytes cut, the same triage_run().  Output is either
 * the header changes as text, or one JSON object per line (json.h).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "json.h"
#include "msgbuf.h"
#include "offline.h"
#include "strvec.h"
#include "triage.h"
#include "xheaders.h"

/* offline_header - unfolded value of the first header called name */
static char *
offline_header(const char *msg, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = msg, *end = msg + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *lend = eol ? eol : end;

		if (lend == p || (lend == p + 1 && *p == '\r'))
			break; /* end of header block */
		if ((size_t)(lend - p) > nlen && p[nlen] == ':' &&
		    g_ascii_strncasecmp(p, name, nlen) == 0) {
			GString *v = g_string_new_len(p + nlen + 1,
						      lend - (p + nlen + 1));
			while (eol && eol + 1 < end &&
			       (eol[1] == ' ' || eol[1] == '\t')) {
				const char *c = eol + 1;

				eol = memchr(c, '\n', (size_t)(end - c));
				lend = eol ? eol : end;
				g_string_append_len(v, c, lend - c);
			}
			return g_strstrip(g_string_free(v, FALSE));
		}
		p = eol ? eol + 1 : end;
	}
	return NULL;
}

/* offline_addresses - the mailbox addresses in a header value */
static void
offline_addresses(const char *value, struct strvec *out)
{
	InternetAddressList *list;

	if (value == NULL)
		return;
	list = internet_address_list_parse(NULL, value);
	if (list == NULL)
		return;
	for (int i = 0; i < internet_address_list_length(list); i++) {
		InternetAddress *ia =
		    internet_address_list_get_address(list, i);

		if (INTERNET_ADDRESS_IS_MAILBOX(ia))
			strvec_push(out, internet_address_mailbox_get_addr(
					     INTERNET_ADDRESS_MAILBOX(ia)));
	}
	g_object_unref(list);
}

/* offline_print_text - the header changes, one per line */
static void
offline_print_text(const struct offline_opts *o, const char *name,
		   const struct triage_result *res)
{
	fprintf(o->out, "==> %s\n", name);
	for (size_t i = 0; i < res->n_del; i++)
		fprintf(o->out, "-%s[%d]\n", res->del[i].name,
			res->del[i].index);
	if (res->error != NULL) {
		fprintf(o->out, "!error: %s\n", res->error);
		return;
	}
	if (o->verbose) {
		fprintf(o->out, "# subject: %s\n",
			res->subject ? res->subject : "");
		fprintf(o->out,
			"# parts: total=%u text=%u attachments=%u rfc822=%u "
			"charset_fallback=%d\n",
			res->n_parts, res->n_text_parts, res->n_attachments,
			res->n_rfc822, res->charset_fallback);
		fprintf(o->out,
			"# length: words=%zu paragraphs=%zu quoted=%zu "
			"signature=%zu\n",
			res->length.words, res->length.paragraphs,
			res->length.quoted, res->length.signature);
		for (size_t i = 0; i < res->n_hits; i++) {
			const struct triage_hit *h = &res->hits[i];

			fprintf(o->out, "# hit %s(%.1f) %s: %s", h->rule,
				h->score, h->category, h->describe);
			if (h->quote != NULL)
				fprintf(o->out,
					"; matched \"%s\" in %s at "
					"bytes %zu-%zu",
					h->quote,
					h->in_subject ? "subject" : "body",
					h->start, h->end);
			fprintf(o->out, " [%s:%d]\n", h->file, h->line);
		}
		if (res->model_p >= 0)
			fprintf(o->out, "# model probability %.2f: %s\n",
				res->model_p,
				res->model_explain ? res->model_explain : "");
	}
	for (size_t i = 0; i < res->add_names.n; i++)
		fprintf(o->out, "+%s: %s\n", res->add_names.v[i],
			res->add_values.v[i]);
}

/*
 * offline_xnames - every X-Triage-* header name of the whole header block,
 * in order, as the MTA hands them to the daemon one by one: the daemon
 * deletes every copy, also those past max_headers or max_scan_bytes that
 * the analysis never reads, so -t must list them too.
 */
static void
offline_xnames(const char *msg, size_t len, struct strvec *out)
{
	const char *p = msg, *end = msg + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *lend = nl ? nl : end;
		const char *colon;
		size_t nlen;

		if (lend > p && lend[-1] == '\r')
			lend--;
		if (lend == p)
			break; /* the blank line before the body */
		if (p[0] == ' ' || p[0] == '\t') {
			p = nl ? nl + 1 : end; /* a folded continuation */
			continue;
		}
		colon = memchr(p, ':', (size_t)(lend - p));
		nlen = colon ? (size_t)(colon - p) : 0;
		while (nlen > 0 && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
			nlen--;
		if (nlen == 0) {
			if (p == msg && lend - p >= 5 &&
			    memcmp(p, "From ", 5) == 0) {
				p = nl ? nl + 1 : end; /* mbox separator */
				continue;
			}
			break; /* not a header: the body starts */
		}
		if (nlen >= strlen(XHEADERS_PREFIX) &&
		    g_ascii_strncasecmp(p, XHEADERS_PREFIX,
					strlen(XHEADERS_PREFIX)) == 0)
			strvec_push_take(out, g_strndup(p, nlen));
		p = nl ? nl + 1 : end;
	}
}

struct triage_result *
offline_triage(const struct triage_config *cf, const char *msg, size_t len,
	       struct triage_env *env)
{
	struct strvec xnames = {0};
	struct msgbuf_limits lim = {
	    .max_bytes = cf->max_scan_bytes,
	    .max_headers = cf->max_headers,
	    .max_header_bytes = cf->max_header_bytes,
	};
	struct msgbuf *b = msgbuf_new(&lim);
	struct triage_result *res;
	size_t kept;
	char *data;

	msgbuf_feed_raw(b, msg, len);
	env->truncated = msgbuf_truncated(b);
	data = msgbuf_take(b, &kept);
	msgbuf_free(b);
	if (env->hdr_names == NULL) {
		offline_xnames(msg, len, &xnames);
		env->hdr_names = (const char *const *)xnames.v;
		env->n_hdr_names = xnames.n;
	}
	res = triage_run(cf, data, kept, env);
	if (env->hdr_names == (const char *const *)xnames.v) {
		env->hdr_names = NULL;
		env->n_hdr_names = 0;
	}
	strvec_clear(&xnames);
	g_free(data);
	return res;
}

/* offline_one - analyse one message held in memory */
static void
offline_one(const struct triage_config *cf, const struct offline_opts *o,
	    const char *name, const char *msg, size_t len,
	    struct offline_stats *st)
{
	struct triage_env env = {0};
	struct triage_result *res;
	struct strvec rcpt = {0};
	char *from = NULL, *hdr;

	if (o->env_from != NULL) {
		from = g_strdup(o->env_from);
	} else {
		struct strvec v = {0};

		hdr = offline_header(msg, len, "Return-Path");
		if (hdr == NULL)
			hdr = offline_header(msg, len, "From");
		offline_addresses(hdr, &v);
		from = g_strdup(v.n ? v.v[0] : "");
		g_free(hdr);
		strvec_clear(&v);
	}
	if (o->env_rcpt != NULL) {
		strvec_push(&rcpt, o->env_rcpt);
	} else {
		hdr = offline_header(msg, len, "To");
		offline_addresses(hdr, &rcpt);
		g_free(hdr);
	}
	env.queue_id = name;
	env.offline = 1;
	env.explain = o->verbose;
	env.env_from = from;
	env.rcpt = (const char *const *)rcpt.v;
	env.n_rcpt = rcpt.n;
	res = offline_triage(cf, msg, len, &env);
	st->messages++;
	if (res->error != NULL)
		st->failed++;
	if (o->json) {
		GString *line = g_string_sized_new(512);

		json_result(line, name, res);
		fprintf(o->out, "%s\n", line->str);
		g_string_free(line, TRUE);
	} else {
		offline_print_text(o, name, res);
	}
	triage_result_free(res);
	strvec_clear(&rcpt);
	g_free(from);
}

/* offline_error - report a path that could not be read */
static void
offline_error(const struct offline_opts *o, const char *name, const char *why,
	      struct offline_stats *st)
{
	st->failed++;
	if (o->json) {
		GString *line = g_string_new("{\"file\":");

		json_string(line, name);
		g_string_append(line, ",\"flags\":[],\"route\":null,"
				      "\"scores\":{},\"rules\":[],"
				      "\"headers\":[],\"deleted\":[],"
				      "\"ack\":null,\"error\":");
		json_string(line, why);
		g_string_append_c(line, '}');
		fprintf(o->out, "%s\n", line->str);
		g_string_free(line, TRUE);
	} else {
		fprintf(o->out, "==> %s\n!error: %s\n", name, why);
	}
}

/* offline_mbox - split an mbox at "From " lines; mboxrd unquoting */
static void
offline_mbox(const struct triage_config *cf, const struct offline_opts *o,
	     const char *path, const char *buf, size_t len,
	     struct offline_stats *st)
{
	const char *p = buf, *end = buf + len;
	unsigned n = 0;

	while (p < end) {
		const char *start, *next = NULL;
		GString *m = g_string_sized_new(4096);
		char *name;

		/* skip the "From " separator line */
		start = memchr(p, '\n', (size_t)(end - p));
		start = start ? start + 1 : end;
		for (const char *q = start; q < end;) {
			const char *eol = memchr(q, '\n', (size_t)(end - q));
			const char *lend = eol ? eol + 1 : end;

			if (end - q >= 5 && memcmp(q, "From ", 5) == 0) {
				next = q;
				break;
			}
			/* ">From " -> "From ", ">>From " -> ">From " */
			if (*q == '>') {
				size_t k = 1;

				while (q + k < lend && q[k] == '>')
					k++;
				if ((size_t)(lend - q) >= k + 5 &&
				    memcmp(q + k, "From ", 5) == 0)
					q++;
			}
			g_string_append_len(m, q, lend - q);
			q = lend;
		}
		name = g_strdup_printf("%s:%u", path, ++n);
		offline_one(cf, o, name, m->str, m->len, st);
		g_free(name);
		g_string_free(m, TRUE);
		p = next ? next : end;
	}
}

/* offline_buffer - the bytes of one file: a message or an mbox */
static void
offline_buffer(const struct triage_config *cf, const struct offline_opts *o,
	       const char *path, const char *buf, size_t len,
	       struct offline_stats *st)
{
	if (len >= 5 && memcmp(buf, "From ", 5) == 0)
		offline_mbox(cf, o, path, buf, len, st);
	else
		offline_one(cf, o, path, buf, len, st);
}

/* offline_file - one file: a message or an mbox */
static void
offline_file(const struct triage_config *cf, const struct offline_opts *o,
	     const char *path, struct offline_stats *st)
{
	GError *gerr = NULL;
	gchar *buf;
	gsize len;

	if (!g_file_get_contents(path, &buf, &len, &gerr)) {
		offline_error(o, path, gerr->message, st);
		g_error_free(gerr);
		return;
	}
	offline_buffer(cf, o, path, buf, len, st);
	g_free(buf);
}

/*
 * offline_read_stdin - standard input to its end, NUL bytes and all, with
 * a NUL after it; NULL and *error_r ("standard input: ...") when memory
 * cannot be had (an error for this input, as g_file_get_contents() makes
 * it for a file, not an abort) or a read fails (standard input closed)
 */
char *
offline_read_stdin(size_t *len_r, char **error_r)
{
	char *buf = NULL;
	size_t len = 0, size = 0;

	for (;;) {
		ssize_t n;

		if (size - len < 2) {
			size_t want = size ? size * 2 : 65536;
			char *p = want > size ? g_try_realloc(buf, want) : NULL;

			if (p == NULL) {
				*error_r = g_strdup_printf("standard input: "
							   "cannot allocate "
							   "%zu bytes",
							   want);
				g_free(buf);
				return NULL;
			}
			buf = p;
			size = want;
		}
		n = read(STDIN_FILENO, buf + len, size - len - 1);
		if (n > 0)
			len += (size_t)n;
		else if (n == 0)
			break;
		else if (errno != EINTR) {
			*error_r = g_strdup_printf("standard input: %s",
						   g_strerror(errno));
			g_free(buf);
			return NULL;
		}
	}
	buf[len] = '\0';
	*len_r = len;
	return buf;
}

/* offline_stdin - "-": standard input, read whole like a file (a message
 * or an mbox), then cut and analysed the same way */
static void
offline_stdin(const struct triage_config *cf, const struct offline_opts *o,
	      struct offline_stats *st)
{
	char *why = NULL;
	size_t len = 0;
	char *buf = offline_read_stdin(&len, &why);

	if (buf == NULL)
		offline_error(o, "-", why, st);
	else
		offline_buffer(cf, o, "-", buf, len, st);
	g_free(why);
	g_free(buf);
}

/* offline_cmp - sort file names */
static gint
offline_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The directories being read, innermost first: a symbolic link back to
 * one of them is a loop that would read the same messages again.
 */
struct offline_dirs {
	dev_t dev;
	ino_t ino;
	const char *path;
	const struct offline_dirs *up;
};

static void offline_path(const struct triage_config *cf,
			 const struct offline_opts *o, const char *path,
			 const struct offline_dirs *up, int depth,
			 GHashTable *seen, struct offline_stats *st);

/* Directories nested deeper than this are a loop or a mistake. */
#define OFFLINE_MAX_DEPTH 32

/* offline_is_dir - whether dir/name is a directory */
static int
offline_is_dir(const char *dir, const char *name)
{
	char *p = g_build_filename(dir, name, NULL);
	int r = g_file_test(p, G_FILE_TEST_IS_DIR);

	g_free(p);
	return r;
}

/*
 * offline_dir - every entry of a directory, sorted; of a maildir (cur/
 * and new/ both there) only cur/ and new/: tmp/ holds messages still
 * being written, and the rest is the mail server's own (dovecot-uidlist,
 * index caches, subscriptions), not mail
 */
static void
offline_dir(const struct triage_config *cf, const struct offline_opts *o,
	    const char *path, const struct offline_dirs *here, int depth,
	    GHashTable *seen, struct offline_stats *st)
{
	GError *gerr = NULL;
	GDir *dir = g_dir_open(path, 0, &gerr);
	int maildir;
	GPtrArray *names;
	const char *e;

	if (dir == NULL) {
		offline_error(o, path, gerr->message, st);
		g_error_free(gerr);
		return;
	}
	maildir = offline_is_dir(path, "cur") && offline_is_dir(path, "new");
	names = g_ptr_array_new_with_free_func(g_free);
	while ((e = g_dir_read_name(dir)) != NULL) {
		if (e[0] == '.')
			continue;
		if (maildir && strcmp(e, "cur") != 0 && strcmp(e, "new") != 0)
			continue;
		g_ptr_array_add(names, g_build_filename(path, e, NULL));
	}
	g_dir_close(dir);
	g_ptr_array_sort(names, offline_cmp);
	for (guint i = 0; i < names->len; i++)
		offline_path(cf, o, g_ptr_array_index(names, i), here,
			     depth + 1, seen, st);
	g_ptr_array_free(names, TRUE);
}

/*
 * offline_first - whether the file sb describes is read for the first
 * time in this run; a path named twice, a file named and also under a
 * named directory, or a link to one already read counts once
 */
static int
offline_first(GHashTable *seen, const struct stat *sb, struct offline_stats *st)
{
	char *key = g_strdup_printf("%ju:%ju", (uintmax_t)sb->st_dev,
				    (uintmax_t)sb->st_ino);

	if (g_hash_table_contains(seen, key)) {
		g_free(key);
		st->duplicates++;
		return 0;
	}
	g_hash_table_add(seen, key);
	return 1;
}

/* offline_path - dispatch on what the path is */
static void
offline_path(const struct triage_config *cf, const struct offline_opts *o,
	     const char *path, const struct offline_dirs *up, int depth,
	     GHashTable *seen, struct offline_stats *st)
{
	struct offline_dirs here;
	struct stat sb;

	if (depth == 0 && strcmp(path, "-") == 0) {
		/* "-" twice, or a file that is also standard input */
		if (fstat(STDIN_FILENO, &sb) != 0 ||
		    offline_first(seen, &sb, st))
			offline_stdin(cf, o, st);
		return;
	}
	if (stat(path, &sb) != 0) {
		offline_error(o, path, g_strerror(errno), st);
		return;
	}
	if (S_ISDIR(sb.st_mode)) {
		for (const struct offline_dirs *d = up; d != NULL; d = d->up) {
			if (d->dev == sb.st_dev && d->ino == sb.st_ino) {
				char *why = g_strdup_printf(
				    "a directory loop: the same directory as "
				    "%s, not read again",
				    d->path);

				offline_error(o, path, why, st);
				g_free(why);
				return;
			}
		}
		here.dev = sb.st_dev;
		here.ino = sb.st_ino;
		here.path = path;
		here.up = up;
		if (depth >= OFFLINE_MAX_DEPTH)
			offline_error(o, path, "directories nested too deep",
				      st);
		else
			offline_dir(cf, o, path, &here, depth, seen, st);
	} else if (S_ISREG(sb.st_mode)) {
		if (offline_first(seen, &sb, st))
			offline_file(cf, o, path, st);
	} else {
		offline_error(o, path, "not a file or directory", st);
	}
}

/* offline_run - analyse every message under the given paths */
void
offline_run(const struct triage_config *cf, char *const *paths, int n,
	    const struct offline_opts *o, struct offline_stats *st)
{
	GHashTable *seen =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (int i = 0; i < n; i++)
		offline_path(cf, o, paths[i], NULL, 0, seen, st);
	g_hash_table_destroy(seen);
	fflush(o->out);
}
