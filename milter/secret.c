/*
 * secret.c - the checks every secret file passes before it is read
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <glib.h>

#include "secret.h"

/* secret_open - a read-only descriptor of a safe secret file, or -1 */
int
secret_open(const char *path, const char *what, int root_may_own,
	    struct stat *sb_r, char **error_r)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	const char *why = NULL;

	if (fd < 0) {
		*error_r =
		    g_strdup_printf("%s: cannot open %s: %s", path, what,
				    errno == ELOOP ? "it is a symbolic link"
						   : g_strerror(errno));
		return -1;
	}
	if (fstat(fd, sb_r) < 0)
		why = g_strerror(errno);
	else if (!S_ISREG(sb_r->st_mode))
		why = "is not a regular file";
	if (why != NULL) {
		*error_r = g_strdup_printf("%s: %s %s", path, what, why);
		close(fd);
		return -1;
	}
	/* root may own what it hands to the user it drops to */
	if (sb_r->st_uid != geteuid() &&
	    !(root_may_own && (sb_r->st_uid == 0 || geteuid() == 0))) {
		*error_r = g_strdup_printf(
		    "%s: %s is owned by uid %lu, not by us (uid %lu)", path,
		    what, (unsigned long)sb_r->st_uid,
		    (unsigned long)geteuid());
		close(fd);
		return -1;
	}
	if ((sb_r->st_mode & 077) != 0) {
		*error_r = g_strdup_printf(
		    "%s: %s has group or other permissions (mode %04o); it "
		    "must be 0600 or 0400 (chmod 600 %s)",
		    path, what, (unsigned)(sb_r->st_mode & 07777), path);
		close(fd);
		return -1;
	}
	return fd;
}
