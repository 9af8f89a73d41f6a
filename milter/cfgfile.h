/*
 * cfgfile.h - parse a libconfuse file with correct line numbers
 *
 * libconfuse 3.3 counts every comment line twice, so "file:line" in its
 * errors drifts further off with each comment above the error.  We read
 * the file ourselves, blank out comments (keeping every newline, so lines
 * stay where they were) and hand the text to cfg_parse_fp() under the
 * file's own name.
 */
#ifndef TRIAGE_CFGFILE_H
#define TRIAGE_CFGFILE_H

#include <confuse.h>

/* Configuration and rule files are small; a bigger one is a mistake. */
#define CFGFILE_MAX_BYTES (16 * 1024 * 1024)

/*
 * cfgfile_read - a configuration or rule file's text with comments
 * blanked, for libconfuse; NULL with "path:line: why" for what libconfuse
 * would misread without a word: a NUL byte (it stops reading there),
 * UTF-16, an unterminated comment or string (the rest of the file
 * vanishes), a '{' never closed.  A UTF-8 byte-order mark is dropped.
 */
char *cfgfile_read(const char *path, char **error_r);

/* cfgfile_line_of - the line (from 1) of byte offset off in text */
unsigned cfgfile_line_of(const char *text, size_t off);

/* cfgfile_parse - cfgfile_read() then cfg_parse_fp(), errors as
 * "path:line: message" */
int cfgfile_parse(cfg_t *cfg, const char *path, char **error_r);

#endif
