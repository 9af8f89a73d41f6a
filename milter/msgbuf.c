/*
 * msgbuf.c - one message as the milter receives it, bounded in memory
 *
 * See msgbuf.h.  The first memory_bytes stay in a GString; the rest goes
 * to a temporary file opened with O_TMPFILE (no name, gone when closed;
 * mkstemp() and unlink() where the file system lacks it) and is read
 * back once, at end of message, when the caller is about to analyse.
 * The page cache holds the spilled bytes, so they do not count against
 * the daemon's resident memory and the kernel may write them out under
 * pressure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "msgbuf.h"

struct msgbuf {
	struct msgbuf_limits lim;
	char *temp_dir;   /* our copy */
	GString *mem;     /* the first bytes, up to lim.memory_bytes */
	int fd;           /* spill file, or -1 */
	size_t spilled;   /* bytes in the spill file */
	size_t kept;      /* mem->len + spilled */
	size_t n_headers; /* header fields seen */
	int truncated;
	char *error; /* first temporary-file error */
};

struct msgbuf *
msgbuf_new(const struct msgbuf_limits *lim)
{
	struct msgbuf *b = g_new0(struct msgbuf, 1);

	b->lim = *lim;
	b->temp_dir = g_strdup(lim->temp_dir != NULL && *lim->temp_dir != '\0'
				   ? lim->temp_dir
				   : g_get_tmp_dir());
	b->lim.temp_dir = b->temp_dir;
	b->mem = g_string_sized_new(8192);
	b->fd = -1;
	return b;
}

struct msgbuf *
msgbuf_free(struct msgbuf *b)
{
	if (b == NULL)
		return NULL;
	if (b->fd >= 0)
		(void)close(b->fd);
	g_string_free(b->mem, TRUE);
	g_free(b->temp_dir);
	g_free(b->error);
	g_free(b);
	return NULL;
}

/* msgbuf_fail - remember the first temporary-file error; drop the rest */
static void
msgbuf_fail(struct msgbuf *b, char *why)
{
	if (b->error == NULL)
		b->error = why;
	else
		g_free(why);
	b->truncated = 1;
}

/* msgbuf_open - the unnamed spill file in temp_dir; 0 or -1 */
static int
msgbuf_open(struct msgbuf *b)
{
	int fd = -1;

#ifdef O_TMPFILE
	fd = open(b->temp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
	/* cppcheck-suppress knownConditionTrueFalse ; not without O_TMPFILE */
	if (fd < 0) {
		/* no O_TMPFILE here (or on this file system): name, unlink */
		char *path =
		    g_build_filename(b->temp_dir, "triage-milter.XXXXXX", NULL);

		fd = g_mkstemp_full(path, O_RDWR | O_CLOEXEC, 0600);
		if (fd >= 0)
			(void)unlink(path);
		g_free(path);
	}
	if (fd < 0) {
		msgbuf_fail(b, g_strdup_printf("cannot create a temporary "
					       "file in %s: %s",
					       b->temp_dir, g_strerror(errno)));
		return -1;
	}
	b->fd = fd;
	return 0;
}

/* msgbuf_spill - write to the spill file; 0 or -1 */
static int
msgbuf_spill(struct msgbuf *b, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(b->fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			msgbuf_fail(
			    b, g_strdup_printf("cannot write the temporary "
					       "file in %s: %s",
					       b->temp_dir,
					       w < 0 ? g_strerror(errno)
						     : "no progress"));
			return -1;
		}
		p += w;
		len -= (size_t)w;
		b->spilled += (size_t)w;
		b->kept += (size_t)w;
	}
	return 0;
}

/* msgbuf_put - keep bytes, up to max_bytes; memory first, then the file */
static void
msgbuf_put(struct msgbuf *b, const char *p, size_t len)
{
	if (b->error != NULL) { /* the file failed: nothing further fits */
		b->truncated |= len > 0;
		return;
	}
	if (b->lim.max_bytes > 0) {
		size_t room =
		    b->lim.max_bytes > b->kept ? b->lim.max_bytes - b->kept : 0;

		if (len > room) {
			len = room;
			b->truncated = 1;
		}
	}
	if (len == 0)
		return;
	/* memory_bytes - 1 bytes and GString's NUL fill exactly
	 * memory_bytes of allocation (GString grows in powers of two) */
	if (b->fd < 0 && (b->lim.memory_bytes == 0 ||
			  b->mem->len + len < b->lim.memory_bytes)) {
		g_string_append_len(b->mem, p, (gssize)len);
		b->kept += len;
		return;
	}
	if (b->fd < 0) {
		/* fill memory to the limit, the rest to the file */
		size_t head = b->lim.memory_bytes > b->mem->len + 1
				  ? b->lim.memory_bytes - b->mem->len - 1
				  : 0;

		g_string_append_len(b->mem, p, (gssize)head);
		b->kept += head;
		p += head;
		len -= head;
		if (msgbuf_open(b) != 0)
			return;
	}
	(void)msgbuf_spill(b, p, len);
}

/*
 * msgbuf_field - one header field given as up to four pieces (a field
 * from the MTA: name, separator, value, CRLF; a raw field: one piece),
 * counted against max_headers and cut at max_header_bytes, with the line
 * end restored after a cut
 */
static void
msgbuf_field(struct msgbuf *b, const char *const *piece, const size_t *len,
	     size_t n)
{
	/* no max_header_bytes: as if the room could not run out */
	size_t room =
	    b->lim.max_header_bytes > 0 ? b->lim.max_header_bytes : SIZE_MAX;

	if (b->lim.max_headers > 0 && b->n_headers >= b->lim.max_headers) {
		b->truncated = 1;
		return;
	}
	b->n_headers++;
	for (size_t i = 0; i < n; i++) {
		size_t keep = room;

		/* the MTA's line end is never cut: a lone CR would be left */
		if (len[i] <= room || (n > 1 && i == n - 1)) {
			msgbuf_put(b, piece[i], len[i]);
			room -= MIN(len[i], room);
			continue;
		}
		/* A cut just after a fold's line break (and its blanks) would
		 * leave an empty line, which ends the header block: every later
		 * header, Content-Type too, would be read as body. */
		while (keep > 0 && (piece[i][keep - 1] == '\r' ||
				    piece[i][keep - 1] == '\n' ||
				    piece[i][keep - 1] == ' ' ||
				    piece[i][keep - 1] == '\t'))
			keep--;
		msgbuf_put(b, piece[i], keep);
		msgbuf_put(b, "\r\n", 2);
		b->truncated = 1;
		return;
	}
}

void
msgbuf_header(struct msgbuf *b, const char *name, const char *value,
	      int leadspc)
{
	const char *piece[4] = {name, leadspc ? ":" : ": ", value, "\r\n"};
	size_t len[4] = {strlen(name), leadspc ? 1 : 2, strlen(value), 2};

	msgbuf_field(b, piece, len, 4);
}

void
msgbuf_eoh(struct msgbuf *b)
{
	msgbuf_put(b, "\r\n", 2);
}

void
msgbuf_body(struct msgbuf *b, const void *p, size_t len)
{
	msgbuf_put(b, p, len);
}

/* msgbuf_line_end - offset just past the line starting at i */
static size_t
msgbuf_line_end(const char *raw, size_t len, size_t i)
{
	const char *nl = memchr(raw + i, '\n', len - i);

	return nl != NULL ? (size_t)(nl - raw) + 1 : len;
}

/* msgbuf_blank - the line at [i, end) is empty ("\n" or "\r\n") */
static int
msgbuf_blank(const char *raw, size_t i, size_t end)
{
	return (end - i == 1 && raw[i] == '\n') ||
	       (end - i == 2 && raw[i] == '\r' && raw[i + 1] == '\n');
}

void
msgbuf_feed_raw(struct msgbuf *b, const char *raw, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t end = msgbuf_line_end(raw, len, i);

		if (msgbuf_blank(raw, i, end)) { /* end of the header block */
			msgbuf_put(b, raw + i, end - i);
			i = end;
			msgbuf_put(b, raw + i, len - i);
			return;
		}
		/* a field: this line and its continuation lines */
		while (end < len && (raw[end] == ' ' || raw[end] == '\t'))
			end = msgbuf_line_end(raw, len, end);
		{
			const char *piece = raw + i;
			size_t field_len = end - i;

			msgbuf_field(b, &piece, &field_len, 1);
		}
		i = end;
	}
}

int
msgbuf_truncated(const struct msgbuf *b)
{
	return b->truncated;
}

size_t
msgbuf_spilled(const struct msgbuf *b)
{
	return b->spilled;
}

const char *
msgbuf_error(const struct msgbuf *b)
{
	return b->error;
}

char *
msgbuf_take(struct msgbuf *b, size_t *len_r)
{
	size_t len = b->mem->len;
	char *out;
	size_t got = 0;

	if (b->fd < 0) { /* all in memory: hand the buffer over, no copy */
		*len_r = len;
		b->kept = 0;
		out = g_string_free(b->mem, FALSE);
		b->mem = g_string_new(NULL);
		return out;
	}
	out = g_malloc(b->mem->len + b->spilled + 1);
	memcpy(out, b->mem->str, b->mem->len);
	while (got < b->spilled) {
		ssize_t r =
		    pread(b->fd, out + len + got, b->spilled - got, (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			msgbuf_fail(b, g_strdup_printf(
					   "cannot read the temporary file "
					   "in %s: %s",
					   b->temp_dir,
					   r < 0 ? g_strerror(errno)
						 : "unexpected end of file"));
			break;
		}
		got += (size_t)r;
	}
	len += got;
	out[len] = '\0';
	(void)close(b->fd);
	b->fd = -1;
	b->spilled = 0;
	b->kept = 0;
	g_string_truncate(b->mem, 0);
	*len_r = len;
	return out;
}
