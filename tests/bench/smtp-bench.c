/*
 * smtp-bench.c - a small SMTP load client that times every message
 *
 * smtp-source cannot report per-message latency, so tests/bench/postfix.sh
 * uses this beside it: S sessions (threads) send N copies of one message
 * file in total; like smtp-source without -d, each message gets its own
 * connection (connect, EHLO, MAIL, RCPT, DATA, ".", QUIT).  The latency of
 * a message is from connect() to the 250 reply after the final dot, so it
 * includes the MTA's milter connection set-up and the milter's verdict.
 *
 * Usage: smtp-bench HOST:PORT SESSIONS COUNT FILE [LATENCY_FILE]
 * Prints one line: n= ok= fail= secs= rate= p50_ms= p90_ms= p99_ms= max_ms=
 * and appends each message's latency in ms to LATENCY_FILE, one a line,
 * so runs can be pooled.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in dest;
static char *payload; /* dot-stuffed, CRLF, with the final ".\r\n" */
static size_t payload_len;
static int total;
static int next_msg;
static int failures;
static double *latency; /* seconds per message, -1 failed */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct conn {
	int fd;
	char buf[4096];
	size_t len;
};

/* reply - read one (possibly multi-line) reply; its code or -1 */
static int
reply(struct conn *c)
{
	for (;;) {
		char *nl;

		while ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
			size_t line = (size_t)(nl - c->buf) + 1;
			int last = line >= 4 && c->buf[3] == ' ';
			int code = atoi(c->buf);

			memmove(c->buf, c->buf + line, c->len - line);
			c->len -= line;
			if (last || line < 4)
				return code;
		}
		if (c->len == sizeof(c->buf))
			c->len = 0;
		{
			ssize_t n = read(c->fd, c->buf + c->len,
					 sizeof(c->buf) - c->len);

			if (n <= 0)
				return -1;
			c->len += (size_t)n;
		}
	}
}

static int
say(struct conn *c, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(c->fd, s, len);

		if (n <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

#define SAY(c, lit) say(c, lit, sizeof(lit) - 1)

/* one_message - 0 when the MTA said 250 to the final dot */
static int
one_message(void)
{
	struct conn c = {0};
	int ok = -1;

	c.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c.fd < 0)
		return -1;
	if (connect(c.fd, (struct sockaddr *)&dest, sizeof(dest)) != 0)
		goto out;
	if (reply(&c) != 220 || SAY(&c, "EHLO bench.example\r\n") ||
	    reply(&c) != 250 ||
	    SAY(&c, "MAIL FROM:<customer@example.net>\r\n") ||
	    reply(&c) != 250 ||
	    SAY(&c, "RCPT TO:<support@example.com>\r\n") ||
	    reply(&c) != 250 || SAY(&c, "DATA\r\n") || reply(&c) != 354 ||
	    say(&c, payload, payload_len) || reply(&c) != 250)
		goto out;
	ok = 0;
	if (SAY(&c, "QUIT\r\n") == 0)
		(void)reply(&c);
out:
	close(c.fd);
	return ok;
}

static void *
session(void *arg)
{
	(void)arg;
	for (;;) {
		int i;
		double t0;
		int rc;

		pthread_mutex_lock(&lock);
		i = next_msg < total ? next_msg++ : -1;
		pthread_mutex_unlock(&lock);
		if (i < 0)
			return NULL;
		t0 = now();
		rc = one_message();
		latency[i] = rc == 0 ? now() - t0 : -1;
		if (rc != 0) {
			pthread_mutex_lock(&lock);
			failures++;
			pthread_mutex_unlock(&lock);
		}
	}
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* load - the file as SMTP DATA: CRLF lines, dot-stuffed, final dot */
static void
load(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *raw;
	long n;
	size_t o = 0;
	int bol = 1;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
		perror(path);
		exit(2);
	}
	rewind(f);
	raw = malloc((size_t)n + 1);
	if (raw == NULL || fread(raw, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		exit(2);
	}
	fclose(f);
	payload = malloc((size_t)n * 2 + 8);
	for (long i = 0; i < n; i++) {
		char ch = raw[i];

		if (bol && ch == '.')
			payload[o++] = '.';
		if (ch == '\n' && (i == 0 || raw[i - 1] != '\r'))
			payload[o++] = '\r';
		payload[o++] = ch;
		bol = ch == '\n';
	}
	if (!bol) {
		payload[o++] = '\r';
		payload[o++] = '\n';
	}
	memcpy(payload + o, ".\r\n", 3);
	payload_len = o + 3;
	free(raw);
}

int
main(int argc, char **argv)
{
	char host[64];
	const char *colon;
	int sessions;
	pthread_t *th;
	double t0, secs, *ok;
	int n_ok = 0;

	if (argc < 5 || argc > 6 || (colon = strrchr(argv[1], ':')) == NULL ||
	    (size_t)(colon - argv[1]) >= sizeof(host)) {
		fprintf(stderr,
			"usage: smtp-bench HOST:PORT SESSIONS COUNT FILE "
			"[LATENCY_FILE]\n");
		return 2;
	}
	memcpy(host, argv[1], (size_t)(colon - argv[1]));
	host[colon - argv[1]] = '\0';
	dest.sin_family = AF_INET;
	dest.sin_port = htons((unsigned short)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &dest.sin_addr) != 1) {
		fprintf(stderr, "smtp-bench: bad address %s\n", host);
		return 2;
	}
	sessions = atoi(argv[2]);
	total = atoi(argv[3]);
	if (sessions < 1 || total < 1)
		return 2;
	load(argv[4]);
	latency = calloc((size_t)total, sizeof(double));
	th = calloc((size_t)sessions, sizeof(pthread_t));
	t0 = now();
	for (int i = 0; i < sessions; i++)
		pthread_create(&th[i], NULL, session, NULL);
	for (int i = 0; i < sessions; i++)
		pthread_join(th[i], NULL);
	secs = now() - t0;
	ok = calloc((size_t)total, sizeof(double));
	for (int i = 0; i < total; i++)
		if (latency[i] >= 0)
			ok[n_ok++] = latency[i];
	if (argc == 6) {
		FILE *lf = fopen(argv[5], "a");

		if (lf == NULL) {
			perror(argv[5]);
			return 2;
		}
		for (int i = 0; i < n_ok; i++)
			fprintf(lf, "%.3f\n", ok[i] * 1e3);
		fclose(lf);
	}
	qsort(ok, (size_t)n_ok, sizeof(double), cmp);
#define PCT(p) (n_ok ? ok[(size_t)((n_ok - 1) * (p))] * 1e3 : 0.0)
	printf("n=%d ok=%d fail=%d secs=%.3f rate=%.1f p50_ms=%.2f "
	       "p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
	       total, n_ok, failures, secs, n_ok / secs, PCT(0.50), PCT(0.90),
	       PCT(0.99), n_ok ? ok[n_ok - 1] * 1e3 : 0.0);
	return failures ? 1 : 0;
}
