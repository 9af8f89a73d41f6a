/*
 * main.c - triage-milter: options, daemon life cycle, offline mode
 *
 * Start-up order matters: read and check the configuration, open the
 * listening socket (as root if need be), detach, write the pid file, then
 * drop privileges and hand control to libmilter.  Bad configuration at
 * start is fatal with "file:line: message".
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <time.h>
#include <pthread.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <glib.h>

#include "config.h"
#include "eval.h"
#include "log.h"
#include "milter.h"
#include "model.h"
#include "stats.h"
#include "offline.h"
#include "rules.h"
#include "sender.h"
#include "sign.h"
#include "store.h"
#include "sweep.h"
#include "triage.h"
#include "version.h"

enum {
	OPT_JSON = 256,
	OPT_ENV_FROM,
	OPT_ENV_RCPT,
	OPT_EVAL,
	OPT_LABELS,
	OPT_VERIFY,
	OPT_GENKEY,
	OPT_TRAIN,
	OPT_CLASS,
	OPT_LICENSE,
	OPT_DATA,
	OPT_CITATION,
	OPT_CV
};

/* The modes, as bits: what the options choose, and what each goes with. */
enum {
	MODE_DAEMON = 1 << 0,
	MODE_CHECK = 1 << 1,  /* -n */
	MODE_TEST = 1 << 2,   /* -t */
	MODE_EVAL = 1 << 3,   /* --eval */
	MODE_VERIFY = 1 << 4, /* --verify */
	MODE_TRAIN = 1 << 5   /* --train */
};

/*
 * Options that belong to some modes only: given with another, they would
 * be ignored in silence (`-c x.conf --cv 5` would start the daemon), so
 * they are refused, saying what they go with.  -c and -v go with all.
 */
static const struct main_option_mode {
	int ch;
	const char *name;
	unsigned modes;
	const char *with;
} main_option_modes[] = {
    {'f', "-f", MODE_DAEMON, "the daemon"},
    {'p', "-p", MODE_DAEMON | MODE_CHECK, "the daemon or -n"},
    {OPT_JSON, "--json", MODE_TEST, "-t"},
    {OPT_ENV_FROM, "--env-from", MODE_TEST, "-t"},
    {OPT_ENV_RCPT, "--env-rcpt", MODE_TEST, "-t"},
    {OPT_LABELS, "--labels", MODE_EVAL | MODE_TRAIN,
     "--eval DIR or --train DIR"},
    {OPT_CLASS, "--class", MODE_TRAIN, "--train"},
    {OPT_LICENSE, "--license", MODE_TRAIN, "--train"},
    {OPT_DATA, "--data", MODE_TRAIN, "--train"},
    {OPT_CITATION, "--citation", MODE_TRAIN, "--train"},
    {'o', "-o", MODE_TRAIN, "--train"},
    {OPT_CV, "--cv", MODE_TRAIN, "--train"},
};

/* main_option_index - ch's entry in main_option_modes, or -1 */
static int
main_option_index(int ch)
{
	for (size_t i = 0; i < G_N_ELEMENTS(main_option_modes); i++)
		if (main_option_modes[i].ch == ch)
			return (int)i;
	return -1;
}

/*
 * main_check_modes - at most one mode, and every option given (the bits
 * of main_option_modes in given) one that goes with it; 0, or -1 after
 * saying why on stderr
 */
static int
main_check_modes(const char *const modes[], size_t n_modes, unsigned mode,
		 unsigned long given)
{
	const char *first = NULL; /* the mode given, if not the daemon */

	for (size_t i = 0; i < n_modes; i++) {
		if (modes[i] == NULL)
			continue;
		if (first != NULL) {
			fprintf(stderr,
				"triage-milter: %s and %s are two modes: "
				"give one\n",
				first, modes[i]);
			return -1;
		}
		first = modes[i];
	}
	for (size_t i = 0; i < G_N_ELEMENTS(main_option_modes); i++) {
		const struct main_option_mode *om = &main_option_modes[i];

		if ((given & (1UL << i)) != 0 && (om->modes & mode) == 0) {
			fprintf(stderr,
				"triage-milter: %s goes with %s, not with %s\n",
				om->name, om->with,
				first != NULL ? first : "the daemon");
			return -1;
		}
	}
	return 0;
}

static const struct option main_longopts[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"env-from", required_argument, NULL, OPT_ENV_FROM},
    {"env-rcpt", required_argument, NULL, OPT_ENV_RCPT},
    {"eval", required_argument, NULL, OPT_EVAL},
    {"labels", required_argument, NULL, OPT_LABELS},
    {"verify", required_argument, NULL, OPT_VERIFY},
    {"generate-key", required_argument, NULL, OPT_GENKEY},
    {"train", required_argument, NULL, OPT_TRAIN},
    {"class", required_argument, NULL, OPT_CLASS},
    {"license", required_argument, NULL, OPT_LICENSE},
    {"data", required_argument, NULL, OPT_DATA},
    {"citation", required_argument, NULL, OPT_CITATION},
    {"cv", required_argument, NULL, OPT_CV},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* main_usage - the synopsis, to stderr (or stdout for -h) */
static void
main_usage(FILE *fp)
{
	fprintf(
	    fp,
	    "usage: triage-milter [-fv] [-c config] [-p socket]\n"
	    "       triage-milter -n [-c config]\n"
	    "       triage-milter -t [-v] [-c config] [--json] "
	    "[--env-from addr] [--env-rcpt addr] path...\n"
	    "       triage-milter --eval labeled.tsv [-v] [-c config]\n"
	    "       triage-milter --eval dir --labels file [-v] [-c "
	    "config]\n"
	    "       triage-milter --verify message [-c config]\n"
	    "       triage-milter --generate-key path\n"
	    "       triage-milter --train labeled.tsv -o model [-c config] "
	    "[--class flags] [--license text] [--data text] [--citation "
	    "text]\n"
	    "       triage-milter --train labeled.tsv --cv K [-c config] "
	    "[--class flags]\n"
	    "       triage-milter --train dir --labels file (-o model | --cv "
	    "K) [...]\n"
	    "       triage-milter -V\n"
	    "  -c FILE    configuration file (default %s)\n"
	    "  -p SOCKET  listen on SOCKET (unix:/path, local:/path, "
	    "inet:port@host, inet6:port@host)\n"
	    "  -f         stay in the foreground, log to stderr\n"
	    "  -n         check the configuration and exit\n"
	    "  -t         analyse messages offline (files, maildirs, "
	    "mboxes, - for standard input)\n"
	    "  --json     with -t: one JSON object per message\n"
	    "  --env-from ADDR, --env-rcpt ADDR\n"
	    "             with -t: the envelope (default: Return-Path or "
	    "From, and To)\n"
	    "  --eval F   measure precision/recall on labeled data\n"
	    "  --labels F with --eval DIR or --train DIR: FILE<TAB>labels "
	    "lines\n"
	    "  --verify F whether F's X-Triage-* headers are genuine "
	    "(exit 0 yes, 1 no, 2 cannot tell; - for standard input)\n"
	    "  --generate-key F  write a new signing key (mode 0600)\n"
	    "  --train F  a model from labeled data, the configuration's "
	    "rule hits as features\n"
	    "  --cv K     with --train: K-fold cross-validation of rules, "
	    "model and both\n"
	    "  -v         verbose (-t: explain each rule hit)\n"
	    "  -V         print the version and exit\n",
	    TRIAGE_CONF);
}

/*
 * main_number - a numeric option's value: decimal digits only, from lo
 * to hi; 0, or -1 with a message naming the option.  strtoul() alone
 * takes "2x" as 2, "" as 0, "-1" and 2^32 + 2 as large numbers that wrap.
 */
static int
main_number(const char *opt, const char *arg, unsigned lo, unsigned hi,
	    const char *unit, unsigned *value_r)
{
	unsigned long v = 0;
	const char *p = arg;

	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > hi)
			break;
	}
	if (*arg == '\0' || *p != '\0' || v < lo || v > hi) {
		fprintf(stderr,
			"triage-milter: %s \"%s\": expected a number of %s "
			"from %u to %u\n",
			opt, arg, unit, lo, hi);
		return -1;
	}
	*value_r = (unsigned)v;
	return 0;
}

/* The pid file, open and locked (flock) while the daemon runs. */
static int main_pidfile_fd = -1;

/*
 * main_write_pidfile - record our pid (making its directory); 0 or -1
 *
 * The file stays open with a lock, so a second daemon given the same pid
 * file refuses to start instead of overwriting the running one's pid.  A
 * symbolic link is not followed: the directory may belong to user, and
 * root must not write through a link that user planted.
 */
static int
main_write_pidfile(const char *path, const char *user)
{
	char *dir = g_path_get_dirname(path);
	char buf[32];
	int fd, n;

	/* like a systemd RuntimeDirectory: /run is emptied at boot */
	if (mkdir(dir, 0755) == 0 && *user != '\0') {
		char *name = g_strdup(user), *colon = strchr(name, ':');
		struct passwd *pw;

		if (colon != NULL)
			*colon = '\0';
		pw = getpwnam(name);
		if (pw != NULL && chown(dir, pw->pw_uid, pw->pw_gid) != 0)
			log_warn("cannot chown %s: %s", dir, strerror(errno));
		g_free(name);
	}
	g_free(dir);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_err("cannot write pid file %s: %s", path,
			errno == ELOOP ? "it is a symbolic link"
				       : strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		ssize_t len = pread(fd, buf, sizeof(buf) - 1, 0);

		buf[len > 0 ? len : 0] = '\0';
		g_strstrip(buf);
		log_err("pid file %s is held by a running triage-milter (pid "
			"%s): stop it first, or give this one a pid file and "
			"a socket of its own",
			path, *buf ? buf : "unknown");
		close(fd);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		log_err("cannot write pid file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	main_pidfile_fd = fd;
	return 0;
}

/*
 * main_socket_check - refuse a unix socket path that another process
 * serves, or that is not a socket; 0 when free or stale, -1 otherwise
 *
 * libmilter removes whatever socket it finds at the path: the stale one a
 * crash left, but also a running daemon's, whose mail a second instance
 * would then take over while the first runs on unreachable.
 */
static int
main_socket_check(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc;

	if (path == NULL || lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("cannot open socket %s: a file that is not a socket "
			"is in the way; remove it",
			path);
		return -1;
	}
	if (strlen(path) >= sizeof(sun.sun_path))
		return 0; /* libmilter says why */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0) {
		log_err("cannot open socket %s: a running process listens on "
			"it (another triage-milter?); stop it first",
			path);
		return -1;
	}
	return 0;
}

/* main_drop_privileges - become user[:group]; 0 or -1 */
static int
main_drop_privileges(const char *spec, const char *socket_path)
{
	char *user = g_strdup(spec), *group = strchr(user, ':');
	struct passwd *pw;
	gid_t gid;
	int rc = -1;

	if (group != NULL)
		*group++ = '\0';
	pw = getpwnam(user);
	if (pw == NULL) {
		log_err("user \"%s\": no such user", user);
		goto out;
	}
	gid = pw->pw_gid;
	if (group != NULL && *group != '\0') {
		struct group *gr = getgrnam(group);

		if (gr == NULL) {
			log_err("group \"%s\": no such group", group);
			goto out;
		}
		gid = gr->gr_gid;
	}
	/* the socket stays ours so we can remove it at exit */
	if (socket_path != NULL && chown(socket_path, pw->pw_uid, gid) != 0)
		log_warn("cannot chown %s: %s", socket_path, strerror(errno));
	if (getuid() == 0 && initgroups(pw->pw_name, gid) != 0) {
		log_err("initgroups %s: %s", pw->pw_name, strerror(errno));
		goto out;
	}
	if (setgid(gid) != 0 || setuid(pw->pw_uid) != 0) {
		log_err("cannot become %s: %s", spec, strerror(errno));
		goto out;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		log_err("privileges could be regained after dropping them");
		goto out;
	}
	rc = 0;
out:
	g_free(user);
	return rc;
}

/* The write end of the pipe the parent of a detached daemon waits on. */
static int main_ready_fd = -1;

/*
 * main_detach - become a daemon: fork and a new session.  The parent
 * stays until the child says it is ready (main_ready()), and exits 0 only
 * then; a child that fails at start closes the pipe, and the parent exits
 * 1, so an init script or a postmaster sees the failure in the exit
 * status.  Standard error stays the terminal's until then, so the reason
 * shows there too (openlog(LOG_PERROR) in main_daemon()).
 */
static int
main_detach(void)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds) != 0) {
		log_err("pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		log_err("fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid > 0) {
		char c;
		ssize_t n;

		close(fds[1]);
		do
			n = read(fds[0], &c, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? 0 : 1);
	}
	close(fds[0]);
	(void)fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	main_ready_fd = fds[1];
	if (setsid() < 0 || chdir("/") != 0) {
		log_err("cannot detach: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* main_ready - the start went well: stdio to /dev/null, log to syslog
 * only, and release the parent of a detached daemon */
static void
main_ready(const struct triage_config *cf)
{
	int fd;

	if (main_ready_fd < 0)
		return;
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	openlog("triage-milter", LOG_PID | LOG_NDELAY, cf->syslog_facility);
	if (write(main_ready_fd, "", 1) != 1)
		log_warn("cannot tell the starting process: %s",
			 strerror(errno));
	close(main_ready_fd);
	main_ready_fd = -1;
}

/* main_socket_path - the file of a unix socket spec, or NULL */
static const char *
main_socket_path(const char *socket)
{
	if (g_str_has_prefix(socket, "unix:"))
		return socket + 5;
	if (g_str_has_prefix(socket, "local:"))
		return socket + 6;
	return NULL;
}

/* main_stats_names - register the config's flags and routes; a reload
 * adds names, never drops counts */
static void
main_stats_names(struct stats *s, const struct triage_config *cf)
{
	for (size_t i = 0; i < cf->n_categories; i++)
		(void)stats_add_flag(s, cf->categories[i].flag);
	for (size_t i = 0; i < cf->n_routes; i++)
		(void)stats_add_route(s, cf->routes[i].name);
}

static struct stats *main_stats;

/* A model that lost some of its rule features; prefix, model file, names. */
#define MAIN_LOST_RULES                                                        \
	"%s%s: trained with rules that the rule files no longer have (their "  \
	"hits were features: retrain it): %s"

/*
 * main_reload_thread - SIGUSR1 reloads the configuration and rules
 *
 * libmilter stops on SIGHUP, so reload has its own signal.  The new
 * snapshot is built here, off the mail path, and swapped in atomically;
 * sessions in flight keep the snapshot they started with.  A bad new
 * configuration is logged with file:line and the running one stays.
 */
struct main_reload {
	struct triage_config *start; /* the configuration at start */
	int socket_fixed;            /* -p gave the socket */
};

static gpointer
main_reload_thread(gpointer arg)
{
	struct main_reload *rl = arg;
	const char *path = rl->start->path;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		struct triage_config *cf;
		char *error = NULL;
		int sig;

		if (sigwait(&set, &sig) != 0 || sig != SIGUSR1)
			continue;
		cf = config_load(path, &error);
		if (cf == NULL) {
			log_err("reload failed, keeping the running "
				"configuration: %s",
				error);
			g_free(error);
			continue;
		}
		error = config_restart_keys(rl->start, cf, rl->socket_fixed);
		if (error != NULL)
			log_warn("reload: changed, but taking effect only at a "
				 "restart (the values of the start stay): %s",
				 error);
		g_free(error);
		if (cf->n_rule_files == 0)
			log_warn("reload: no rule file matches \"rules\"; only "
				 "length is triaged");
		error = config_model_lost_rules(cf);
		if (error != NULL)
			log_warn(MAIN_LOST_RULES, "reload: ", cf->model_file,
				 error);
		g_free(error);
		log_info("reloaded %s", path);
		main_stats_names(main_stats, cf);
		milter_set_config(cf);
	}
	return NULL;
}

/*
 * main_temp_dir_problem - why messages over memory_buffer_bytes could not
 * spill to temp_dir (as the user running now), or NULL; a warning, since
 * mail flows anyway (those messages are analysed in part)
 */
static char *
main_temp_dir_problem(const struct triage_config *cf)
{
	const char *dir =
	    *cf->temp_dir != '\0' ? cf->temp_dir : g_get_tmp_dir();

	if (cf->memory_buffer_bytes == 0 || access(dir, W_OK | X_OK) == 0)
		return NULL;
	return g_strdup_printf("%s: temp_dir \"%s\": %s; messages over "
			       "memory_buffer_bytes will be analysed only in "
			       "part",
			       cf->name, dir, g_strerror(errno));
}

/* main_arenas - malloc heaps for the daemon: one per concurrent
 * analysis, at least 2 */
static unsigned
main_arenas(const struct triage_config *cf)
{
	unsigned n = milter_scan_slots(cf);

	return n < 2 ? 2 : n;
}

static int main_milter_done; /* smfi_main() returned */

/* Sessions in flight get at least this long to finish at a stop. */
#define MAIN_MIN_STOP_S 10

/* Delivered messages are read whole; beyond this it is not mail. */
#define MAIN_MAX_VERIFY_BYTES (64 * 1024 * 1024)

/* main_verify - --verify: 0 genuine, 1 forged, 2 cannot tell; path "-"
 * is standard input, read as -t reads it (a file called "-" is ./-) */
static int
main_verify(const struct triage_config *cf, const char *path)
{
	GError *gerr = NULL;
	enum sign_result r;
	char *detail = NULL, *why = NULL;
	gchar *buf;
	gsize len;

	if (cf->sign_keys == NULL) {
		fprintf(stderr,
			"%s: cannot tell: no signing keys configured "
			"(signing { key_id key_file verify_keys })\n",
			path);
		return 2;
	}
	if (strcmp(path, "-") == 0) {
		buf = offline_read_stdin(&len, &why);
		if (buf == NULL) {
			fprintf(stderr, "-: cannot tell: %s\n", why);
			g_free(why);
			return 2;
		}
	} else if (!g_file_get_contents(path, &buf, &len, &gerr)) {
		fprintf(stderr, "%s: cannot tell: %s\n", path, gerr->message);
		g_error_free(gerr);
		return 2;
	}
	if (len > MAIN_MAX_VERIFY_BYTES)
		len = MAIN_MAX_VERIFY_BYTES; /* the headers come first */
	r = sign_verify_message(cf->sign_keys, buf, len, &detail);
	printf("%s: %s\n", path, detail ? detail : "");
	g_free(detail);
	g_free(buf);
	return (int)r;
}

/* The configuration's rules as the model's rule features (model_rules). */
struct main_rules {
	struct triage_config cf; /* a shallow copy without the model */
	char **flags;            /* the flags of the trained class */
	GHashTable *fired;       /* the names of the rules that fired */
};

/* main_class_has - whether flag is one of the class's flags */
static int
main_class_has(char *const *flags, const char *flag)
{
	for (; *flags != NULL; flags++)
		if (strcmp(*flags, flag) == 0)
			return 1;
	return 0;
}

/*
 * main_rule_features - the rule features of an analysis, with the rules'
 * score in the model's category and whether they flag the class through
 * another category; the rules that fired join mr->fired
 */
static char **
main_rule_features(struct main_rules *mr, const struct triage_result *res,
		   double *score_r, int *other_r)
{
	GPtrArray *v = g_ptr_array_new();

	*score_r = 0;
	*other_r = 0;
	for (size_t i = 0; i < res->n_hits; i++) {
		g_ptr_array_add(
		    v, g_strconcat(MODEL_RULE_PREFIX, res->hits[i].rule, NULL));
		if (!g_hash_table_contains(mr->fired, res->hits[i].rule))
			g_hash_table_add(mr->fired,
					 g_strdup(res->hits[i].rule));
	}
	for (size_t i = 0; i < res->n_scores; i++) {
		const struct triage_score *sc = &res->scores[i];
		const struct config_category *c =
		    config_category(&mr->cf, sc->category);

		if (mr->cf.model_category != NULL &&
		    strcmp(sc->category, mr->cf.model_category) == 0)
			*score_r = sc->score;
		else if (sc->flagged && c != NULL &&
			 main_class_has(mr->flags, c->flag))
			*other_r = 1;
	}
	g_ptr_array_add(v, NULL);
	return (char **)g_ptr_array_free(v, FALSE);
}

/*
 * main_rule_hits - model_rules run(): the text as the body of a message
 * through triage_run() with the rules only, as --eval does
 */
static char **
main_rule_hits(void *ctx, const char *text, size_t len, double *score_r,
	       int *other_r)
{
	struct main_rules *mr = ctx;
	struct triage_env env = {0};
	struct triage_result *res;
	GString *msg = g_string_new("From: train@localhost\n"
				    "Subject: \n"
				    "MIME-Version: 1.0\n"
				    "Content-Type: text/plain; charset=utf-8\n"
				    "Content-Transfer-Encoding: 8bit\n\n");
	char **v;

	g_string_append_len(msg, text, (gssize)len);
	g_string_append_c(msg, '\n');
	env.offline = 1;
	res = triage_run(&mr->cf, msg->str, msg->len, &env);
	v = main_rule_features(mr, res, score_r, other_r);
	triage_result_free(res);
	g_string_free(msg, TRUE);
	return v;
}

/*
 * main_rule_message - model_rules message(): a stored message through
 * triage_run() as the daemon analyses it, keeping the text it scores
 */
static char **
main_rule_message(void *ctx, const char *msg, size_t len, char **text_r,
		  double *score_r, int *other_r, char **error_r)
{
	struct main_rules *mr = ctx;
	struct triage_env env = {0};
	struct triage_result *res;
	char **v;

	env.offline = 1;
	env.keep_text = 1;
	res = offline_triage(&mr->cf, msg, len, &env);
	*error_r = g_strdup(res->error);
	if (res->error == NULL && res->text == NULL)
		*error_r = g_strdup("not analysed (scan_timeout_ms)");
	*text_r = *error_r == NULL ? g_steal_pointer(&res->text) : NULL;
	v = main_rule_features(mr, res, score_r, other_r);
	triage_result_free(res);
	return v;
}

/* main_sorted_names - the keys of a set, sorted, separated by spaces */
static char *
main_sorted_names(GHashTable *set)
{
	GList *keys =
	    g_list_sort(g_hash_table_get_keys(set), (GCompareFunc)strcmp);
	GString *s = g_string_new(NULL);

	for (GList *l = keys; l != NULL; l = l->next)
		g_string_append_printf(s, "%s%s", s->len ? " " : "",
				       (const char *)l->data);
	g_list_free(keys);
	return g_string_free(s, FALSE);
}

/* main_cv - --train --cv K: rules, model and both cross-validated */
static int
main_cv(const struct main_rules *mr, const struct model_data *d,
	const char *name, const char *unit, unsigned k, const char *class_spec,
	const struct model_train_opts *o)
{
	struct eval_score rules[MODEL_CV_MAX_K + 1], model[MODEL_CV_MAX_K + 1],
	    both[MODEL_CV_MAX_K + 1];
	const char *cat = mr->cf.model_category;
	const struct config_category *c =
	    cat != NULL ? config_category(&mr->cf, cat) : NULL;
	struct model_combine cb = {0};
	double thr[MODEL_CV_MAX_K];
	char *error = NULL;

	cb.weight = mr->cf.model_weight;
	cb.cat_threshold = c != NULL ? c->threshold : 1e9;
	cb.inner_k = 3;
	if (model_cv_both(d, k, o->seed, o, &cb, rules, model, both, thr,
			  &error) != 0) {
		fprintf(stderr, "triage-milter: %s\n", error);
		g_free(error);
		return 1;
	}
	printf("# %s: %zu %s, %zu %s; %u folds (seed %u); ", name, d->n, unit,
	       d->n_pos, class_spec, k, o->seed);
	if (c != NULL)
		printf("model weight %.1f into %s (threshold %.1f)\n",
		       cb.weight, cat, cb.cat_threshold);
	else
		printf("\"both\" is the rules alone: no model category\n");
	printf("# model thresholds chosen on the training folds:");
	for (unsigned f = 0; f < k; f++)
		printf(" %.2f", thr[f]);
	printf("\n");
	eval_score_header(stdout, 12);
	eval_score_row(stdout, 12, "rules", &rules[k]);
	eval_score_row(stdout, 12, "model", &model[k]);
	eval_score_row(stdout, 12, "both", &both[k]);
	return 0;
}

/* The options of --train. */
struct main_train_args {
	const char *path;   /* a TSV, or with labels a directory */
	const char *labels; /* --labels: FILE<TAB>labels of stored messages */
	const char *out, *class_spec, *license, *data, *citation;
	unsigned cv; /* > 0: cross-validate with cv folds, write nothing */
};

/*
 * main_train - --train: a learned model from labeled TSV or labeled
 * stored messages, with the configuration's rule hits as features, or
 * with cv > 0 its k-fold cross-validation; 0 or 1
 */
static int
main_train(const struct triage_config *cf, const struct main_train_args *tm)
{
	struct model_train_opts o;
	struct main_rules mr;
	struct model_rules rules = {main_rule_hits, main_rule_message, &mr,
				    cf->max_tokens};
	struct model_data d = {0};
	char *error = NULL, *data = NULL, *names = NULL, **known;
	const char *unit = tm->labels ? "messages" : "rows";
	size_t skipped = 0;
	int rc;

	if (tm->out == NULL && tm->cv == 0) {
		fprintf(stderr, "triage-milter: --train needs -o MODEL\n");
		return 1;
	}
	mr.cf = *cf;
	mr.cf.model = NULL;
	mr.flags = g_strsplit_set(tm->class_spec, ",|", -1);
	for (char **f = mr.flags; *f != NULL; f++)
		g_strstrip(*f);
	mr.fired = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	model_train_defaults(&o);
	o.class_spec = tm->class_spec;
	o.license = tm->license;
	o.citation = tm->citation;
	if (cf->rules != NULL)
		o.rules = &rules;
	/* stored messages always go through triage_run(): it finds the
	 * text the daemon scores, with or without rules */
	known = eval_known_flags(cf);
	if (tm->labels != NULL)
		rc = model_read_messages(tm->path, tm->labels, tm->class_spec,
					 known, &rules, &d, &skipped, &error);
	else
		rc = model_read_tsv_rules(tm->path, tm->class_spec, known,
					  o.rules, &d, &error);
	g_strfreev(known);
	if (rc == 0 && skipped > 0)
		fprintf(stderr,
			"triage-milter: %zu message(s) skipped, %zu used\n",
			skipped, d.n);
	if (rc == 0 && tm->cv > 0) {
		rc = main_cv(&mr, &d, tm->path, unit, tm->cv, tm->class_spec,
			     &o);
	} else if (rc == 0) {
		data = g_strdup_printf("%s (%zu %s, %zu positive)",
				       tm->data ? tm->data : tm->path, d.n,
				       unit, d.n_pos);
		o.data = data;
		/* the header names them, so that a rule set without one
		 * of them can be told (config_model_lost_rules()) */
		names = main_sorted_names(mr.fired);
		o.rule_names = names;
		rc = model_train_data(&d, tm->out, &o, &error);
	}
	if (error != NULL) {
		fprintf(stderr, "triage-milter: %s\n", error);
		g_free(error);
	}
	model_data_clear(&d);
	g_free(data);
	g_free(names);
	g_strfreev(mr.flags);
	g_hash_table_destroy(mr.fired);
	return rc == 0 ? 0 : 1;
}

/* main_generate_key - --generate-key: a new key file, mode 0600 */
static int
main_generate_key(const char *path)
{
	char *error = NULL;

	if (sign_key_generate(path, &error) != 0) {
		fprintf(stderr, "triage-milter: %s\n", error);
		g_free(error);
		return 1;
	}
	return 0;
}

/* main_milter_thread - libmilter's listener and session threads */
static gpointer
main_milter_thread(gpointer arg)
{
	int *rc = arg;

	*rc = milter_run();
	__atomic_store_n(&main_milter_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * main_serve - run libmilter until SIGTERM, SIGINT or SIGHUP, then stop
 * gracefully; returns libmilter's result
 *
 * Debian's libmilter serves sessions from a worker pool that stops with
 * the listener, so its own handling of SIGTERM cuts the messages in
 * flight.  The main thread therefore takes the stop signals itself (a
 * signal sent to the process goes to the main thread first when it waits
 * for it), refuses new sessions, lets the open ones finish (bounded), and
 * only then tells libmilter to stop.
 */
static int
main_serve(const struct triage_config *cf)
{
	unsigned grace =
	    cf->drain_s > MAIN_MIN_STOP_S ? cf->drain_s : MAIN_MIN_STOP_S;
	struct timespec tick = {1, 0};
	GThread *t;
	sigset_t set;
	int rc = 0, sig = 0;

	t = g_thread_new("milter", main_milter_thread, &rc);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	while (!__atomic_load_n(&main_milter_done, __ATOMIC_ACQUIRE)) {
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig > 0)
			break;
	}
	if (sig > 0) {
		log_info("stopping (signal %d): finishing the messages in "
			 "flight",
			 sig);
		int left;

		milter_refuse_new(1);
		left = milter_wait_idle(grace * 1000);
		if (left > 0)
			log_warn("stopping with %d session(s) still open",
				 left);
		milter_stop();
	}
	g_thread_join(t);
	return rc;
}

/*
 * main_block_signals - every thread blocks the signals that threads wait
 * for: SIGUSR1 (our reload thread) and SIGHUP, SIGINT, SIGTERM
 * (libmilter's).  Done before any thread starts, so all inherit it;
 * otherwise a SIGTERM could land in a thread that does not wait for it
 * and kill the process without cleanup.
 */
static void
main_block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* main_remove_pidfile - at exit, or after a failed start: remove, then
 * unlock */
static void
main_remove_pidfile(const char *path)
{
	if (unlink(path) != 0 && errno != ENOENT)
		log_warn("cannot remove pid file %s: %s", path,
			 strerror(errno));
	if (main_pidfile_fd >= 0)
		close(main_pidfile_fd);
	main_pidfile_fd = -1;
}

/*
 * main_daemon - run the milter until told to stop; socket_fixed: -p gave
 * the socket.  A failure at start exits 1 (the parent of a detached
 * daemon too, see main_detach()) and removes the socket and the pid file
 * it made, so that neither names a daemon that is not running.
 */
static int
main_daemon(struct triage_config *cf, const char *socket, int socket_fixed,
	    int foreground)
{
	/* static: the reload thread is never joined */
	static struct main_reload reload;
	struct store *st = NULL;
	struct sender *sender = NULL;
	struct sweep *sweep = NULL;
	struct stats_server *srv = NULL;
	int rc, pid_written = 0;

	log_open("triage-milter", cf->syslog_facility, foreground);
	/* until the start is done, errors also go to the terminal */
	if (!foreground)
		openlog("triage-milter", LOG_PID | LOG_NDELAY | LOG_PERROR,
			cf->syslog_facility);
	triage_init();
	/* one malloc heap per analysis that may run at once */
	triage_tune_malloc(main_arenas(cf));
	if (main_socket_check(main_socket_path(socket)) != 0 ||
	    milter_open(cf, socket) != 0)
		goto fail;
	if (!foreground && main_detach() != 0)
		goto fail;
	if (*cf->pidfile != '\0') {
		if (main_write_pidfile(cf->pidfile, cf->user) != 0)
			goto fail;
		pid_written = 1;
	}
	if (*cf->user != '\0' &&
	    main_drop_privileges(cf->user, main_socket_path(socket)) != 0)
		goto fail;
	/* what a reload reads, read once now as the user the daemon runs as:
	 * a key, rule or model file only root can read fails every reload */
	if (*cf->user != '\0') {
		char *why = NULL;
		struct triage_config *again = config_load(cf->path, &why);

		if (again == NULL)
			log_warn("as user %s the configuration cannot be read "
				 "again, so every reload (SIGUSR1) will fail "
				 "until this is fixed: %s",
				 cf->user, why);
		config_unref(again);
		g_free(why);
	}
	/* A filter of untrusted mail has no business running as root. */
	if (geteuid() == 0 && !cf->allow_root) {
		log_err("refusing to run as root: set user = \"triage-milter\" "
			"(or allow_root = true)");
		goto fail;
	}
	{
		char *why = main_temp_dir_problem(cf);

		if (why != NULL)
			log_warn("%s", why);
		g_free(why);
	}
	/* after the fork and the user change: the files must be ours */
	if (*cf->store_uri != '\0') {
		char *error = NULL;

		st = store_open(cf->store_uri,
				*cf->store_key_file ? cf->store_key_file : NULL,
				&error);
		if (st == NULL) {
			log_err("store: %s", error);
			g_free(error);
			goto fail;
		}
		/* a shared store down at start: milter_set_runtime() says so */
		sweep = sweep_start(st, SWEEP_INTERVAL_S * 1000);
	}
	if (cf->reply.enable) {
		char *error = NULL;

		sender = sender_start(&cf->sender, st, &error);
		if (sender == NULL) {
			log_err("reply: %s", error);
			g_free(error);
			goto fail;
		}
	}
	milter_set_runtime(st, sender);
	main_stats = stats_new(PACKAGE_VERSION);
	main_stats_names(main_stats, cf);
	milter_set_stats(main_stats);
	if (*cf->stats_listen != '\0') {
		char *error = NULL;

		srv = stats_listen_start(main_stats, cf->stats_listen, &error);
		if (srv == NULL) {
			log_err("%s", error);
			g_free(error);
			goto fail;
		}
		if (stats_listen_check(cf->stats_listen, &error) == 0)
			log_warn("stats_listen %s is not a loopback address: "
				 "the counters are visible from the network",
				 cf->stats_listen);
		log_info("metrics listening on %s (GET /metrics)",
			 stats_listen_address(srv));
	}
	log_info("starting %s on %s (config %s; acknowledgments %s)",
		 TRIAGE_VERSION_STRING, socket, cf->path,
		 cf->reply.enable ? "on" : "off");
	reload.start = config_ref(cf);
	reload.socket_fixed = socket_fixed;
	g_thread_unref(g_thread_new("reload", main_reload_thread, &reload));
	main_ready(cf);
	rc = main_serve(cf);
	sender_stop(sender, cf->drain_s * 1000);
	milter_set_runtime(NULL, NULL);
	(void)stats_listen_stop(srv);
	milter_set_stats(NULL);
	sweep_stop(sweep);
	store_close(st);
	milter_cleanup();
	if (pid_written)
		main_remove_pidfile(cf->pidfile);
	return rc == 0 ? 0 : 1;

fail:
	sender_stop(sender, 0);
	milter_set_runtime(NULL, NULL);
	milter_set_stats(NULL);
	sweep_stop(sweep);
	store_close(st);
	milter_cleanup();
	if (pid_written)
		main_remove_pidfile(cf->pidfile);
	return 1;
}

int
main(int argc, char **argv)
{
	const char *conf_path = NULL, *socket = NULL;
	int foreground = 0, check = 0, offline = 0, verbose = 0, ch, rc;
	int defaults = 0; /* no -c and no installed configuration */
	struct offline_opts oo = {0};
	struct eval_opts eo = {0};
	const char *eval_path = NULL, *verify_path = NULL;
	struct main_train_args tm = {
	    NULL, NULL, NULL, "abusive|profanity", "as the training data's",
	    NULL, NULL, 0};
	struct triage_config *cf;
	char *error = NULL;
	unsigned long given = 0; /* bits of main_option_modes */

	while ((ch = getopt_long(argc, argv, "c:fhno:p:tvV", main_longopts,
				 NULL)) != -1) {
		int opt = main_option_index(ch);

		if (opt >= 0)
			given |= 1UL << opt;
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'p':
			socket = optarg;
			break;
		case 't':
			offline = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'V':
			printf("%s\n", TRIAGE_VERSION_STRING);
			return 0;
		case 'h':
			main_usage(stdout);
			return 0;
		case OPT_JSON:
			oo.json = 1;
			break;
		case OPT_ENV_FROM:
			oo.env_from = optarg;
			break;
		case OPT_ENV_RCPT:
			oo.env_rcpt = optarg;
			break;
		case OPT_EVAL:
			eval_path = optarg;
			break;
		case OPT_LABELS:
			eo.labels = optarg;
			break;
		case OPT_VERIFY:
			verify_path = optarg;
			break;
		case OPT_GENKEY:
			return main_generate_key(optarg);
		case OPT_TRAIN:
			tm.path = optarg;
			break;
		case OPT_CLASS:
			tm.class_spec = optarg;
			break;
		case OPT_LICENSE:
			tm.license = optarg;
			break;
		case OPT_DATA:
			tm.data = optarg;
			break;
		case OPT_CITATION:
			tm.citation = optarg;
			break;
		case 'o':
			tm.out = optarg;
			break;
		case OPT_CV:
			if (main_number("--cv", optarg, 2, MODEL_CV_MAX_K,
					"folds", &tm.cv) != 0)
				return 1;
			break;
		default:
			main_usage(stderr);
			return 1;
		}
	}
	log_set_verbose(verbose);
	/* GMime parses addresses while the configuration is read */
	triage_init();
	if (offline && optind >= argc) {
		fprintf(stderr, "triage-milter: -t needs at least one path\n");
		return 1;
	}
	{
		const char *modes[] = {check ? "-n" : NULL,
				       offline ? "-t" : NULL,
				       eval_path ? "--eval" : NULL,
				       verify_path ? "--verify" : NULL,
				       tm.path ? "--train" : NULL};
		unsigned mode = check         ? MODE_CHECK
				: offline     ? MODE_TEST
				: eval_path   ? MODE_EVAL
				: verify_path ? MODE_VERIFY
				: tm.path     ? MODE_TRAIN
					      : MODE_DAEMON;

		if (main_check_modes(modes, G_N_ELEMENTS(modes), mode, given) !=
		    0)
			return 1;
	}
	if (!offline && optind < argc) {
		main_usage(stderr);
		return 1;
	}

	/* An explicit -c must exist; the default may be absent for -t. */
	if (conf_path == NULL && (offline || eval_path || tm.path) &&
	    !verify_path && access(TRIAGE_CONF, F_OK) != 0) {
		cf = config_default();
		defaults = 1;
	} else
		cf = config_load(conf_path ? conf_path : TRIAGE_CONF, &error);
	if (cf == NULL) {
		fprintf(stderr, "%s\n", error ? error : "cannot load config");
		g_free(error);
		/* --verify: without keys we cannot tell, which is not "forged"
		 */
		return verify_path != NULL ? 2 : 1;
	}
	if (socket != NULL && config_parse_socket(socket, &error) != 0) {
		fprintf(stderr, "triage-milter: -p: %s\n", error);
		g_free(error);
		config_unref(cf);
		return 1;
	}
	if (tm.path != NULL) {
		tm.labels = eo.labels;
		rc = main_train(cf, &tm);
		config_unref(cf);
		return rc;
	}
	if (check) {
		char *why = main_temp_dir_problem(cf);

		if (why != NULL)
			fprintf(stderr, "triage-milter: warning: %s\n", why);
		g_free(why);
	}
	if (cf->n_rule_files == 0 && !verify_path) {
		if (!defaults)
			fprintf(stderr,
				"triage-milter: warning: %s: no rule file "
				"matches \"rules\"; only length is triaged\n",
				cf->name);
		else
			fprintf(stderr,
				"triage-milter: warning: no %s and no rule "
				"file in %s; only length is triaged (-c names "
				"a configuration)\n",
				TRIAGE_CONF, TRIAGE_RULESDIR);
	}
	if (!verify_path) {
		char *lost = config_model_lost_rules(cf);

		if (lost != NULL)
			fprintf(stderr, MAIN_LOST_RULES "\n",
				"triage-milter: warning: ", cf->model_file,
				lost);
		g_free(lost);
	}
	if (check) {
		GString *report = g_string_new(NULL);
		unsigned failed =
		    cf->rules ? rules_check_examples(cf->rules, report) : 0;

		fputs(report->str, stderr);
		if (failed > 0)
			fprintf(stderr, "%s: %u rule example(s) failed\n",
				cf->name, failed);
		g_string_free(report, TRUE);
		config_unref(cf);
		return failed == 0 ? 0 : 1;
	}
	if (verify_path != NULL) {
		rc = main_verify(cf, verify_path);
		config_unref(cf);
		return rc;
	}
	if (eval_path != NULL) {
		triage_init();
		eo.verbose = verbose;
		eo.out = stdout;
		rc = eval_run(cf, eval_path, &eo);
		config_unref(cf);
		return rc;
	}
	if (offline) {
		struct offline_stats st = {0};

		triage_init();
		oo.verbose = verbose;
		oo.out = stdout;
		offline_run(cf, argv + optind, argc - optind, &oo, &st);
		if (st.duplicates > 0)
			fprintf(stderr,
				"triage-milter: note: %lu path(s) named a "
				"file already read; each file was analysed "
				"once\n",
				st.duplicates);
		if (verbose)
			fprintf(stderr,
				"triage-milter: %lu messages, %lu failed\n",
				st.messages, st.failed);
		config_unref(cf);
		return st.failed == 0 ? 0 : 1;
	}
	signal(SIGPIPE, SIG_IGN);
	main_block_signals();
	rc = main_daemon(cf, socket ? socket : cf->socket, socket != NULL,
			 foreground);
	config_unref(cf);
	return rc;
}
