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

int cfgfile_parse(cfg_t *cfg, const char *path, char **error_r);
char *cfgfile_strip_comments(const char *text, size_t len);

#endif
