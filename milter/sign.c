/*
 * sign.c - key files, the canonical form, signing and verifying
 *
 * sign.h states the key file format, the header value and the canonical
 * form; this file follows them byte for byte (the unit test recomputes
 * the HMAC from that description alone).  The verifier reads header
 * fields as slices of the message it was given and copies nothing but
 * the signature value; when it cannot read the header section the way a
 * mail client would, it answers SIGN_UNKNOWN rather than guess.
 *
 * Every diagnostic is returned to the caller, which decides how to log
 * it; a loaded key set is never written after sign_keys_load() returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "secret.h"
#include "sign.h"

/* Every header the milter adds starts with this (as in xheaders.h). */
#define SIGN_PREFIX "X-Triage-"
/* 256 bits: RFC 2104 asks for at least the hash's output length. */
#define SIGN_SECRET_MIN 32
/* SHA-256's block size: HMAC hashes longer keys down, so more adds nothing. */
#define SIGN_SECRET_MAX 64
/* What sign_key_generate() writes: as long as the hash. */
#define SIGN_SECRET_NEW 32
/* Room for the longest key in base64 with line breaks; more is not a key. */
#define SIGN_KEY_FILE_MAX 4096
/* HMAC-SHA256 output, and its base64 form: 4 * ceil(32 / 3). */
#define SIGN_MAC_LEN 32
#define SIGN_B64_LEN 44
/* Postfix and Sendmail queue ids are 10-20 characters; room to spare. */
#define SIGN_QUEUE_ID_MAX 64
/* More names than an h= list under SIGN_MAX_VALUE can hold (10+ each). */
#define SIGN_MAX_FIELDS 128
/* Names and tags quoted in a detail or an error are cut here. */
#define SIGN_QUOTE_MAX 64

/* sign_key - one secret and its id */
struct sign_key {
	char kid[SIGN_KID_MAX + 1];
	unsigned char secret[SIGN_SECRET_MAX];
	size_t len;
};

/* sign_keys - every configured key; read-only once loaded */
struct sign_keys {
	struct sign_key *keys;
	size_t n;
	const struct sign_key *signer; /* NULL: verification only */
};

/* sign_field - one header field as a slice of the caller's bytes */
struct sign_field {
	const char *name;
	size_t name_len;
	const char *value; /* after the colon, folds included */
	size_t value_len;
};

/* sign_scan - the header fields verification needs */
struct sign_scan {
	struct sign_field triage[SIGN_MAX_FIELDS]; /* not the signature */
	size_t n_triage;
	int too_many; /* more X-Triage-* fields than the milter can sign */
	struct sign_field sig;
	size_t n_sig;
	struct sign_field msgid; /* the first Message-ID */
	int has_msgid;
};

/* sign_tags - the tags of a signature value, pointing into buf */
struct sign_tags {
	char *buf; /* the value without blanks, split in place */
	const char *v, *kid, *h, *q, *b;
	const char *unknown; /* the first tag name we do not know */
	char *error;         /* the first syntax error, reported after v= */
};

/* sign_blank - whitespace that refolding may add, remove or change */
static int
sign_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* sign_quote - s made safe for one line of diagnostics, cut short */
static char *
sign_quote(const char *s, size_t len)
{
	GString *out = g_string_sized_new(len < SIGN_QUOTE_MAX ? len + 1 : 80);

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == SIGN_QUOTE_MAX) {
			g_string_append(out, "...");
			break;
		}
		g_string_append_c(out, c >= 0x20 && c < 0x7f ? (char)c : '?');
	}
	return g_string_free(out, FALSE);
}

/* sign_kid_valid - whether kid is 1-SIGN_KID_MAX of [A-Za-z0-9._-] */
int
sign_kid_valid(const char *kid)
{
	size_t len;

	if (kid == NULL)
		return 0;
	len = strlen(kid);
	if (len == 0 || len > SIGN_KID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!g_ascii_isalnum(kid[i]) && strchr("._-", kid[i]) == NULL)
			return 0;
	return 1;
}

/* sign_name_valid - an X-Triage-* header name we may sign */
static int
sign_name_valid(const char *name, size_t len)
{
	size_t plen = strlen(SIGN_PREFIX);

	if (len <= plen || g_ascii_strncasecmp(name, SIGN_PREFIX, plen) != 0)
		return 0;
	if (len == strlen(SIGN_HEADER) &&
	    g_ascii_strncasecmp(name, SIGN_HEADER, len) == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (name[i] <= ' ' || name[i] >= 0x7f || name[i] == ':')
			return 0;
	return 1;
}

/* sign_queue_id_valid - 0-SIGN_QUEUE_ID_MAX printable, no blank or ';' */
static int
sign_queue_id_valid(const char *q)
{
	size_t len = strlen(q);

	if (len > SIGN_QUEUE_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (q[i] <= ' ' || q[i] >= 0x7f || q[i] == ';')
			return 0;
	return 1;
}

/* sign_same_name - case-insensitive equality of two header names */
static int
sign_same_name(const char *a, size_t a_len, const char *b, size_t b_len)
{
	return a_len == b_len && g_ascii_strncasecmp(a, b, a_len) == 0;
}

/* sign_canon_value - blank runs to one SP, none at either end */
static void
sign_canon_value(GString *out, const char *p, size_t len)
{
	int started = 0, pending = 0;

	for (size_t i = 0; i < len; i++) {
		if (sign_blank((unsigned char)p[i])) {
			pending = started;
			continue;
		}
		if (pending)
			g_string_append_c(out, ' ');
		started = 1;
		pending = 0;
		g_string_append_c(out, p[i]);
	}
}

/* sign_canon_msgid - no blanks; between the first '<' and the next '>' */
static void
sign_canon_msgid(GString *out, const char *p, size_t len)
{
	GString *id = g_string_sized_new(len + 1);
	const char *lt, *gt;

	for (size_t i = 0; i < len; i++)
		if (!sign_blank((unsigned char)p[i]))
			g_string_append_c(id, p[i]);
	lt = memchr(id->str, '<', id->len);
	gt = lt != NULL ? memchr(lt, '>', id->len - (size_t)(lt - id->str))
			: NULL;
	if (gt != NULL)
		g_string_append_len(out, lt + 1, gt - lt - 1);
	else
		g_string_append_len(out, id->str, (gssize)id->len);
	g_string_free(id, TRUE);
}

/* sign_append_lower - append the ASCII lowercase of a header name */
static void
sign_append_lower(GString *out, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		g_string_append_c(out, g_ascii_tolower(p[i]));
}

/* sign_canonical - the bytes the HMAC covers (see sign.h) */
static void
sign_canonical(GString *out, const struct sign_field *f, size_t n,
	       const char *msgid, size_t msgid_len, const char *kid,
	       const char *q)
{
	for (size_t i = 0; i < n; i++) {
		sign_append_lower(out, f[i].name, f[i].name_len);
		g_string_append_c(out, ':');
		sign_canon_value(out, f[i].value, f[i].value_len);
		g_string_append(out, "\r\n");
	}
	g_string_append(out, "message-id:");
	sign_canon_msgid(out, msgid, msgid_len);
	g_string_append(out, "\r\nqueue-id:");
	g_string_append(out, q);
	g_string_append(out, "\r\nx-triage-signature:v=1; kid=");
	g_string_append(out, kid);
	g_string_append(out, "; h=");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			g_string_append_c(out, ':');
		sign_append_lower(out, f[i].name, f[i].name_len);
	}
	g_string_append(out, "; q=");
	g_string_append(out, q);
	g_string_append(out, "; b=");
}

/* sign_mac_b64 - base64 HMAC-SHA256 of the canonical form; 0 or -1 */
static int
sign_mac_b64(const struct sign_key *key, const struct sign_field *f, size_t n,
	     const char *msgid, size_t msgid_len, const char *q,
	     char b64[SIGN_B64_LEN + 1])
{
	GString *data = g_string_sized_new(512);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	int ok;

	sign_canonical(data, f, n, msgid, msgid_len, key->kid, q);
	ok = HMAC(EVP_sha256(), key->secret, (int)key->len,
		  (const unsigned char *)data->str, data->len, mac,
		  &mac_len) != NULL &&
	     mac_len == SIGN_MAC_LEN;
	g_string_free(data, TRUE);
	if (!ok)
		return -1;
	EVP_EncodeBlock((unsigned char *)b64, mac, SIGN_MAC_LEN);
	return 0;
}

/* sign_write_all - write len bytes or fail */
static int
sign_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * sign_key_generate - write a new random key file at path (mode 0600)
 *
 * The key goes to a temporary file linked into place, so an existing key
 * is never replaced and nobody ever reads half a key.
 */
int
sign_key_generate(const char *path, char **error_r)
{
	unsigned char key[SIGN_SECRET_NEW];
	char text[SIGN_B64_LEN + 2]; /* base64 of 32 bytes, LF, NUL */
	char *tmp = g_strdup_printf("%s.XXXXXX", path);
	int fd, ok = 0;

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		*error_r = g_strdup_printf("%s: cannot create key file: %s",
					   path, g_strerror(errno));
		g_free(tmp);
		return -1;
	}
	if (RAND_bytes(key, sizeof(key)) != 1) {
		*error_r = g_strdup_printf(
		    "%s: cannot create key file: no random bytes", path);
	} else {
		int len = EVP_EncodeBlock((unsigned char *)text, key,
					  (int)sizeof(key));

		text[len] = '\n';
		if (fchmod(fd, 0600) < 0 ||
		    sign_write_all(fd, text, (size_t)len + 1) < 0 ||
		    fsync(fd) < 0)
			*error_r = g_strdup_printf("%s: cannot write key: %s",
						   tmp, g_strerror(errno));
		else if (link(tmp, path) < 0)
			*error_r = g_strdup_printf(
			    "%s: cannot create key file: %s", path,
			    errno == EEXIST ? "it already exists"
					    : g_strerror(errno));
		else
			ok = 1;
	}
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(text, sizeof(text));
	close(fd);
	unlink(tmp);
	g_free(tmp);
	return ok ? 0 : -1;
}

/* sign_read_file - the whole key file after the checks; length or -1 */
static ssize_t
sign_read_file(const char *path, char *buf, size_t size, char **error_r)
{
	struct stat sb;
	size_t got = 0;
	int fd;

	fd = secret_open(path, "key file", 1, &sb, error_r);
	if (fd < 0)
		return -1;
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = g_strdup_printf("%s: cannot read key: %s",
						   path, g_strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got == size) {
		*error_r = g_strdup_printf(
		    "%s: key file is larger than %d bytes; it should hold "
		    "one line of base64",
		    path, SIGN_KEY_FILE_MAX);
		return -1;
	}
	return (ssize_t)got;
}

/* sign_decode_key - strict base64, blanks ignored, into key->secret */
static int
sign_decode_key(const char *path, char *text, size_t len, struct sign_key *key,
		char **error_r)
{
	unsigned char raw[SIGN_KEY_FILE_MAX];
	size_t n = 0, pad = 0;
	int out, bad = 0;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (sign_blank((unsigned char)c))
			continue;
		if (c == '=')
			pad++;
		else if (pad > 0 ||
			 (!g_ascii_isalnum(c) && c != '+' && c != '/'))
			bad = 1; /* data after padding, or not base64 */
		text[n++] = c;
	}
	if (bad || n == 0 || n % 4 != 0 || pad > 2) {
		*error_r = g_strdup_printf(
		    "%s: key file is not base64 text (make one with: "
		    "openssl rand -base64 32)",
		    path);
		return -1;
	}
	out = EVP_DecodeBlock(raw, (unsigned char *)text, (int)n);
	if (out >= 0)
		out -= (int)pad;
	if (out < SIGN_SECRET_MIN || out > SIGN_SECRET_MAX) {
		*error_r = g_strdup_printf(
		    "%s: key has %d bytes of secret; it must have %d to %d "
		    "(make one with: openssl rand -base64 32)",
		    path, out < 0 ? 0 : out, SIGN_SECRET_MIN, SIGN_SECRET_MAX);
		OPENSSL_cleanse(raw, sizeof(raw));
		return -1;
	}
	memcpy(key->secret, raw, (size_t)out);
	key->len = (size_t)out;
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

/* sign_load_one - one spec into key; 0 or -1 with *error_r */
static int
sign_load_one(const struct sign_key_spec *spec, struct sign_key *key,
	      char **error_r)
{
	char text[SIGN_KEY_FILE_MAX];
	ssize_t len;
	int rc;

	if (!sign_kid_valid(spec->key_id)) {
		char *q = spec->key_id != NULL
			      ? sign_quote(spec->key_id, strlen(spec->key_id))
			      : g_strdup("");

		*error_r = g_strdup_printf("signing key id \"%s\" must be 1-%d "
					   "of A-Z a-z 0-9 . _ -",
					   q, SIGN_KID_MAX);
		g_free(q);
		return -1;
	}
	if (spec->key_file == NULL || *spec->key_file == '\0') {
		*error_r = g_strdup_printf("signing key id \"%s\" has no key "
					   "file",
					   spec->key_id);
		return -1;
	}
	g_strlcpy(key->kid, spec->key_id, sizeof(key->kid));
	len = sign_read_file(spec->key_file, text, sizeof(text), error_r);
	if (len < 0)
		return -1;
	rc = sign_decode_key(spec->key_file, text, (size_t)len, key, error_r);
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}

/*
 * sign_keys_load - read every key; signing_kid (NULL: verify only) signs
 *
 * Returns NULL with "file: why" or "signing key id ...: why" in *error_r
 * (caller frees); *error_r is untouched on success.
 */
struct sign_keys *
sign_keys_load(const struct sign_key_spec *specs, size_t n,
	       const char *signing_kid, char **error_r)
{
	struct sign_keys *k;

	if (n == 0 || specs == NULL) {
		*error_r = g_strdup("no signing keys configured");
		return NULL;
	}
	k = g_new0(struct sign_keys, 1);
	k->keys = g_new0(struct sign_key, n);
	k->n = n;
	for (size_t i = 0; i < n; i++) {
		if (sign_load_one(&specs[i], &k->keys[i], error_r) < 0)
			return sign_keys_free(k);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(k->keys[j].kid, k->keys[i].kid) == 0) {
				*error_r = g_strdup_printf(
				    "signing key id \"%s\" is given twice",
				    k->keys[i].kid);
				return sign_keys_free(k);
			}
		}
		if (signing_kid != NULL &&
		    strcmp(k->keys[i].kid, signing_kid) == 0)
			k->signer = &k->keys[i];
	}
	if (signing_kid != NULL && k->signer == NULL) {
		char *q = sign_quote(signing_kid, strlen(signing_kid));

		*error_r = g_strdup_printf("signing key id \"%s\" is not "
					   "among the configured keys",
					   q);
		g_free(q);
		return sign_keys_free(k);
	}
	return k;
}

/* sign_keys_free - wipe and free the keys; returns NULL */
struct sign_keys *
sign_keys_free(struct sign_keys *k)
{
	if (k == NULL)
		return NULL;
	OPENSSL_cleanse(k->keys, k->n * sizeof(*k->keys));
	g_free(k->keys);
	g_free(k);
	return NULL;
}

/*
 * sign_header_value - the X-Triage-Signature value for the added headers
 *
 * names/values: the X-Triage-* headers the milter adds, each name once,
 * not X-Triage-Signature; message_id: the raw value of the message's
 * first Message-ID header (with or without <>), NULL if it has none;
 * queue_id: the MTA's queue id, NULL or "" if unknown.  Returns a new
 * string (g_free), or NULL when k cannot sign (verify only), an argument
 * is invalid or the value would reach SIGN_MAX_VALUE bytes.
 */
char *
sign_header_value(const struct sign_keys *k, const char *const *names,
		  const char *const *values, size_t n, const char *message_id,
		  const char *queue_id)
{
	const char *q = queue_id != NULL ? queue_id : "";
	const char *mid = message_id != NULL ? message_id : "";
	char b64[SIGN_B64_LEN + 1];
	struct sign_field *f;
	GString *out;
	int bad = 0;

	if (k == NULL || k->signer == NULL || n > SIGN_MAX_FIELDS ||
	    (n > 0 && (names == NULL || values == NULL)) ||
	    !sign_queue_id_valid(q))
		return NULL;
	f = g_new0(struct sign_field, n + 1);
	for (size_t i = 0; i < n && !bad; i++) {
		if (names[i] == NULL || values[i] == NULL ||
		    !sign_name_valid(names[i], strlen(names[i]))) {
			bad = 1;
			break;
		}
		f[i].name = names[i];
		f[i].name_len = strlen(names[i]);
		f[i].value = values[i];
		f[i].value_len = strlen(values[i]);
		/* verification wants each signed name exactly once */
		for (size_t j = 0; j < i; j++)
			if (sign_same_name(f[j].name, f[j].name_len, f[i].name,
					   f[i].name_len))
				bad = 1;
	}
	if (bad ||
	    sign_mac_b64(k->signer, f, n, mid, strlen(mid), q, b64) < 0) {
		g_free(f);
		return NULL;
	}
	g_free(f);
	out = g_string_new("v=1; kid=");
	g_string_append_printf(out, "%s; h=", k->signer->kid);
	for (size_t i = 0; i < n; i++)
		g_string_append_printf(out, "%s%s", i > 0 ? ":" : "", names[i]);
	g_string_append_printf(out, "; q=%s; b=%s", q, b64);
	if (out->len >= SIGN_MAX_VALUE) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}

/* sign_scan_add - keep a finished field if verification needs it */
static void
sign_scan_add(struct sign_scan *sc, const struct sign_field *f)
{
	size_t plen = strlen(SIGN_PREFIX);

	if (sign_same_name(f->name, f->name_len, SIGN_HEADER,
			   strlen(SIGN_HEADER))) {
		if (sc->n_sig++ == 0)
			sc->sig = *f;
	} else if (f->name_len >= plen &&
		   g_ascii_strncasecmp(f->name, SIGN_PREFIX, plen) == 0) {
		if (sc->n_triage < SIGN_MAX_FIELDS)
			sc->triage[sc->n_triage++] = *f;
		else
			sc->too_many = 1;
	} else if (!sc->has_msgid &&
		   sign_same_name(f->name, f->name_len, "Message-ID",
				  strlen("Message-ID"))) {
		sc->msgid = *f;
		sc->has_msgid = 1;
	}
}

/*
 * sign_field_start - a line that opens a field: "name:" or "name :"
 *
 * A line with no colon (an mbox "From " line, garbage) opens nothing; the
 * scan goes on, so a header hidden after it is still seen.
 */
static int
sign_field_start(const char *line, size_t len, struct sign_field *f)
{
	const char *colon = memchr(line, ':', len);
	size_t name_len;

	if (colon == NULL)
		return 0;
	name_len = (size_t)(colon - line);
	while (name_len > 0 &&
	       (line[name_len - 1] == ' ' || line[name_len - 1] == '\t'))
		name_len--;
	if (name_len == 0)
		return 0;
	f->name = line;
	f->name_len = name_len;
	f->value = colon + 1;
	f->value_len = len - (size_t)(colon + 1 - line);
	return 1;
}

/*
 * sign_scan_headers - collect fields up to the first empty line
 *
 * Lines end in LF (an optional CR before it is dropped), or in CR when
 * the message has no LF at all.  A NUL or any other CR makes the header
 * section ambiguous - clients split it differently - so the scan gives up
 * and returns why; NULL when the fields are in *sc.
 */
static const char *
sign_scan_headers(const char *msg, size_t len, struct sign_scan *sc)
{
	int cr_only = memchr(msg, '\n', len) == NULL;
	int eol_c = cr_only ? '\r' : '\n';
	struct sign_field cur = {0};
	int in_field = 0;
	size_t pos = 0;

	while (pos < len) {
		const char *line = msg + pos;
		const char *eol = memchr(line, eol_c, len - pos);
		size_t line_len =
		    eol != NULL ? (size_t)(eol - line) : len - pos;

		pos += line_len + (eol != NULL);
		if (!cr_only && line_len > 0 && line[line_len - 1] == '\r')
			line_len--;
		if (memchr(line, '\0', line_len) != NULL)
			return "a NUL byte in the header section";
		if (!cr_only && memchr(line, '\r', line_len) != NULL)
			return "a CR that does not end a line in the header "
			       "section";
		if (line_len == 0)
			break;
		if (line[0] == ' ' || line[0] == '\t') {
			if (in_field)
				cur.value_len =
				    (size_t)(line + line_len - cur.value);
			continue;
		}
		if (in_field)
			sign_scan_add(sc, &cur);
		in_field = sign_field_start(line, line_len, &cur);
	}
	if (in_field)
		sign_scan_add(sc, &cur);
	return NULL;
}

/*
 * sign_message_id - the canonical first Message-ID of a message
 *
 * For a caller that has the raw header bytes: passing the result (or the
 * raw header value) to sign_header_value() matches what verification
 * reads.  NULL when there is none or the header section is ambiguous.
 */
char *
sign_message_id(const char *msg, size_t len)
{
	struct sign_scan *sc = g_new0(struct sign_scan, 1);
	char *id = NULL;

	if (msg != NULL && sign_scan_headers(msg, len, sc) == NULL &&
	    sc->has_msgid) {
		GString *out = g_string_new(NULL);

		sign_canon_msgid(out, sc->msgid.value, sc->msgid.value_len);
		id = g_string_free(out, FALSE);
	}
	g_free(sc);
	return id;
}

static enum sign_result sign_say(char **detail_r, enum sign_result r,
				 const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* sign_say - set the one-line detail and return the result */
static enum sign_result
sign_say(char **detail_r, enum sign_result r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*detail_r = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	return r;
}

/* sign_tag_slot - where a known tag goes; NULL for an unknown one */
static const char **
sign_tag_slot(struct sign_tags *t, const char *name)
{
	static const char *const known[] = {"v", "kid", "h", "q", "b"};
	const char **slots[] = {&t->v, &t->kid, &t->h, &t->q, &t->b};

	for (size_t i = 0; i < G_N_ELEMENTS(known); i++)
		if (strcmp(name, known[i]) == 0)
			return slots[i];
	return NULL;
}

/*
 * sign_parse_tags - split "v=1; kid=...; ..." into t
 *
 * Blanks are dropped first: none of our tag values holds one, and a
 * refolded header gains some.  Syntax errors are kept in t->error, not
 * returned, so that an unsupported v= can be told apart from a broken
 * signature.
 */
static void
sign_parse_tags(const struct sign_field *sig, struct sign_tags *t)
{
	GString *s = g_string_sized_new(sig->value_len + 1);
	char *next;

	for (size_t i = 0; i < sig->value_len; i++)
		if (!sign_blank((unsigned char)sig->value[i]))
			g_string_append_c(s, sig->value[i]);
	t->buf = g_string_free(s, FALSE);
	for (char *tag = t->buf; tag != NULL; tag = next) {
		char *semi = strchr(tag, ';');
		char *eq;
		const char **slot;

		next = semi != NULL ? semi + 1 : NULL;
		if (semi != NULL)
			*semi = '\0';
		if (*tag == '\0')
			continue;
		eq = strchr(tag, '=');
		if (eq == NULL) {
			if (t->error == NULL)
				t->error = g_strdup("a tag without '='");
			continue;
		}
		*eq = '\0';
		slot = sign_tag_slot(t, tag);
		if (slot == NULL) {
			if (t->unknown == NULL)
				t->unknown = tag;
		} else if (*slot != NULL) {
			if (t->error == NULL)
				t->error =
				    g_strdup_printf("tag %s= twice", tag);
		} else {
			*slot = eq + 1;
		}
	}
}

/* sign_find_key - the configured key with this id, or NULL */
static const struct sign_key *
sign_find_key(const struct sign_keys *k, const char *kid)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->keys[i].kid, kid) == 0)
			return &k->keys[i];
	return NULL;
}

/* sign_split_h - the h= names into f[]; count, or -1 with *detail_r */
static ssize_t
sign_split_h(const char *h, struct sign_field *f, char **detail_r)
{
	const char *p = h;
	size_t n = 0;
	char *q;

	if (*h == '\0')
		return 0;
	for (;;) {
		const char *end = strchr(p, ':');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (n == SIGN_MAX_FIELDS) {
			sign_say(detail_r, SIGN_FORGED,
				 "h= names more than %d headers",
				 SIGN_MAX_FIELDS);
			return -1;
		}
		if (!sign_name_valid(p, len)) {
			q = sign_quote(p, len);
			sign_say(detail_r, SIGN_FORGED,
				 "h= names \"%s\", not a signed X-Triage-* "
				 "header",
				 q);
			g_free(q);
			return -1;
		}
		for (size_t j = 0; j < n; j++) {
			if (sign_same_name(f[j].name, f[j].name_len, p, len)) {
				q = sign_quote(p, len);
				sign_say(detail_r, SIGN_FORGED,
					 "h= names %s twice", q);
				g_free(q);
				return -1;
			}
		}
		f[n].name = p;
		f[n++].name_len = len;
		if (end == NULL)
			return (ssize_t)n;
		p = end + 1;
	}
}

/* sign_match_fields - each h= header once, nothing else; values into f */
static int
sign_match_fields(const struct sign_scan *sc, struct sign_field *f, size_t n,
		  char **detail_r)
{
	char *q;

	for (size_t i = 0; i < n; i++) {
		size_t seen = 0;

		for (size_t j = 0; j < sc->n_triage; j++) {
			if (sign_same_name(f[i].name, f[i].name_len,
					   sc->triage[j].name,
					   sc->triage[j].name_len)) {
				f[i].value = sc->triage[j].value;
				f[i].value_len = sc->triage[j].value_len;
				seen++;
			}
		}
		if (seen != 1) {
			q = sign_quote(f[i].name, f[i].name_len);
			if (seen == 0)
				sign_say(detail_r, SIGN_FORGED,
					 "signed header %s is missing", q);
			else
				sign_say(detail_r, SIGN_FORGED,
					 "signed header %s appears %zu times",
					 q, seen);
			g_free(q);
			return -1;
		}
	}
	for (size_t j = 0; j < sc->n_triage; j++) {
		size_t i;

		for (i = 0; i < n; i++)
			if (sign_same_name(f[i].name, f[i].name_len,
					   sc->triage[j].name,
					   sc->triage[j].name_len))
				break;
		if (i == n) {
			q = sign_quote(sc->triage[j].name,
				       sc->triage[j].name_len);
			sign_say(detail_r, SIGN_FORGED,
				 "header %s is not covered by the signature "
				 "(added after signing)",
				 q);
			g_free(q);
			return -1;
		}
	}
	return 0;
}

/* sign_verify_fields - headers against h=, then the HMAC */
static enum sign_result
sign_verify_fields(const struct sign_key *key, const struct sign_scan *sc,
		   const struct sign_tags *t, char **detail_r)
{
	struct sign_field f[SIGN_MAX_FIELDS];
	char b64[SIGN_B64_LEN + 1];
	ssize_t n;

	if (sc->too_many)
		return sign_say(detail_r, SIGN_FORGED,
				"more than %d X-Triage-* headers",
				SIGN_MAX_FIELDS);
	n = sign_split_h(t->h, f, detail_r);
	if (n < 0 || sign_match_fields(sc, f, (size_t)n, detail_r) < 0)
		return SIGN_FORGED;
	if (strlen(t->b) != SIGN_B64_LEN)
		return sign_say(detail_r, SIGN_FORGED,
				"b= is not a base64 HMAC-SHA256");
	if (sign_mac_b64(
		key, f, (size_t)n, sc->has_msgid ? sc->msgid.value : "",
		sc->has_msgid ? sc->msgid.value_len : 0, t->q, b64) < 0)
		return sign_say(detail_r, SIGN_UNKNOWN,
				"cannot compute HMAC-SHA256");
	if (CRYPTO_memcmp(b64, t->b, SIGN_B64_LEN) != 0)
		return sign_say(detail_r, SIGN_FORGED,
				"HMAC mismatch: a signed header, the "
				"Message-ID or the queue id was changed");
	return sign_say(detail_r, SIGN_GENUINE,
			"genuine: %zd header%s signed with key %s, queue id %s",
			n, n == 1 ? "" : "s", key->kid,
			*t->q != '\0' ? t->q : "(none)");
}

/* sign_verify_tags - the signature's tags, its key, then the fields */
static enum sign_result
sign_verify_tags(const struct sign_keys *k, const struct sign_scan *sc,
		 struct sign_tags *t, char **detail_r)
{
	static const char *const need[] = {"kid", "h", "q", "b"};
	const struct sign_key *key;
	enum sign_result r;
	char *q;

	if (sc->sig.value_len >= 2 * SIGN_MAX_VALUE)
		return sign_say(detail_r, SIGN_FORGED,
				"the signature is too long");
	sign_parse_tags(&sc->sig, t);
	if (t->v == NULL)
		return sign_say(detail_r, SIGN_FORGED,
				"the signature has no v= tag");
	if (strcmp(t->v, "1") != 0) {
		q = sign_quote(t->v, strlen(t->v));
		r = sign_say(detail_r, SIGN_UNKNOWN,
			     "signature version v=%s is not supported", q);
		g_free(q);
		return r;
	}
	if (t->error != NULL)
		return sign_say(detail_r, SIGN_FORGED,
				"malformed signature: %s", t->error);
	if (t->unknown != NULL) {
		q = sign_quote(t->unknown, strlen(t->unknown));
		r = sign_say(detail_r, SIGN_FORGED,
			     "malformed signature: unknown tag %s=", q);
		g_free(q);
		return r;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(need); i++)
		if (*sign_tag_slot(t, need[i]) == NULL)
			return sign_say(detail_r, SIGN_FORGED,
					"malformed signature: no %s= tag",
					need[i]);
	if (!sign_kid_valid(t->kid) || !sign_queue_id_valid(t->q))
		return sign_say(detail_r, SIGN_FORGED,
				"malformed signature: bad kid= or q=");
	key = sign_find_key(k, t->kid);
	if (key == NULL)
		return sign_say(detail_r, SIGN_UNKNOWN, "key %s not configured",
				t->kid);
	return sign_verify_fields(key, sc, t, detail_r);
}

/*
 * sign_verify_message - are a delivered message's triage headers genuine?
 *
 * Reads only the header section of msg.  *detail_r (if detail_r is not
 * NULL) gets one printable line saying why (caller frees).
 */
enum sign_result
sign_verify_message(const struct sign_keys *k, const char *msg, size_t len,
		    char **detail_r)
{
	struct sign_scan *sc = g_new0(struct sign_scan, 1);
	struct sign_tags t = {0};
	char *detail = NULL;
	const char *why;
	enum sign_result r;

	if (k == NULL || msg == NULL)
		r = sign_say(&detail, SIGN_UNKNOWN, "no keys or no message");
	else if ((why = sign_scan_headers(msg, len, sc)) != NULL)
		r = sign_say(&detail, SIGN_UNKNOWN, "%s", why);
	else if (sc->n_sig == 0)
		r = sign_say(&detail, SIGN_UNKNOWN, "no signature (no %s)",
			     SIGN_HEADER);
	else if (sc->n_sig > 1)
		r = sign_say(&detail, SIGN_FORGED, "%zu %s headers", sc->n_sig,
			     SIGN_HEADER);
	else
		r = sign_verify_tags(k, sc, &t, &detail);
	g_free(t.buf);
	g_free(t.error);
	g_free(sc);
	if (detail_r != NULL)
		*detail_r = detail;
	else
		g_free(detail);
	return r;
}
