/*
 * secret.h - open a file that holds a secret, refusing unsafe ones
 *
 * The site key of the store and the signing keys are files a postmaster
 * creates once; if others could read or replace them, hashed addresses
 * and signed verdicts would mean nothing.  secret_open() opens without
 * following a symbolic link, and refuses anything but a regular file
 * owned by us (or by root, when root_may_own) with no group or other
 * permissions.  Errors name the file and say how to fix it.
 */
#ifndef TRIAGE_SECRET_H
#define TRIAGE_SECRET_H

#include <sys/stat.h>

int secret_open(const char *path, const char *what, int root_may_own,
		struct stat *sb_r, char **error_r);

#endif
