/* A minimal HTTP/1.1 client for one POST: enough to talk to the results collector, nothing
 * more (no redirects, no chunked answers, no TLS). Answers are parsed from a bounded buffer. */
#include <natcheck/error.h>
#include <natcheck/submit.h>

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RESP_MAX 65536

int nc_http_url_parse(const char *url, struct nc_http_url *out)
{
	const char *p, *host, *hend, *path;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!url)
		return -NC_E_PARSE;
	if (strncasecmp(url, "https://", 8) == 0)
		return -NC_E_UNSUPPORTED;
	if (strncasecmp(url, "http://", 7) != 0)
		return -NC_E_PARSE;
	host = url + 7;
	path = host + strcspn(host, "/?#");
	if (*host == '[') {
		hend = memchr(host, ']', (size_t)(path - host));
		if (!hend)
			return -NC_E_PARSE;
		n = (size_t)(hend - host - 1);
		if (n == 0 || n >= sizeof(out->host))
			return -NC_E_PARSE;
		memcpy(out->host, host + 1, n);
		p = hend + 1;
	} else {
		hend = memchr(host, ':', (size_t)(path - host));
		p = hend ? hend : path;
		n = (size_t)(p - host);
		if (n == 0 || n >= sizeof(out->host))
			return -NC_E_PARSE;
		memcpy(out->host, host, n);
	}
	if (*p == ':') {
		n = (size_t)(path - p - 1);
		if (n == 0 || n > 5)
			return -NC_E_PARSE;
		for (size_t i = 1; i <= n; i++)
			if (!isdigit((unsigned char)p[i]))
				return -NC_E_PARSE;
		memcpy(out->port, p + 1, n);
		if (atoi(out->port) < 1 || atoi(out->port) > 65535)
			return -NC_E_PARSE;
	} else if (p != path) {
		return -NC_E_PARSE;
	} else {
		strcpy(out->port, "80");
	}
	for (const char *c = out->host; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr(".-:_", *c))
			return -NC_E_PARSE;
	if (*path == '\0')
		path = "/";
	if (*path != '/' || strlen(path) >= sizeof(out->path))
		return -NC_E_PARSE;
	for (const char *c = path; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return -NC_E_PARSE;
	strcpy(out->path, path);
	return 0;
}

/* Reads a decimal number of at most 9 digits from [p, end); -1 when there is none. */
static long rd_dec(const char *p, const char *end)
{
	long v = 0;
	int n = 0;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	for (; p < end && isdigit((unsigned char)*p); p++, n++) {
		if (n == 9)
			return -1;
		v = v * 10 + (*p - '0');
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return n > 0 && p == end ? v : -1;
}

int nc_http_response_parse(const char *buf, size_t len, bool closed, struct nc_http_response *out)
{
	const char *end = buf + len, *line = buf, *eol;
	long clen = -1;

	memset(out, 0, sizeof(*out));
	/* Status line: HTTP/1.x SP 3DIGIT SP reason CRLF */
	eol = memmem(buf, len, "\r\n", 2);
	if (!eol)
		return len > 1024 ? -NC_E_MALFORMED : (closed ? -NC_E_MALFORMED : -NC_E_TRUNCATED);
	if (eol - buf < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' ||
	    !isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
	    !isdigit((unsigned char)buf[11]) || (eol - buf > 12 && buf[12] != ' '))
		return -NC_E_MALFORMED;
	out->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (out->status < 100)
		return -NC_E_MALFORMED;
	for (line = eol + 2;; line = eol + 2) {
		const char *colon;
		eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		if (!eol)
			return closed ? -NC_E_MALFORMED : -NC_E_TRUNCATED;
		if (eol == line)
			break; /* end of headers */
		colon = memchr(line, ':', (size_t)(eol - line));
		if (!colon || colon == line)
			return -NC_E_MALFORMED;
		size_t nlen = (size_t)(colon - line);
		if (nlen == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
			long v = rd_dec(colon + 1, eol);
			if (v < 0 || (clen >= 0 && v != clen))
				return -NC_E_MALFORMED;
			clen = v;
		} else if (nlen == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
			return -NC_E_MALFORMED; /* the collector never chunks; refuse, do not guess
						 */
		} else if (nlen == 11 && strncasecmp(line, "Retry-After", 11) == 0) {
			long v = rd_dec(colon + 1, eol);
			out->retry_after_s = v < 0 ? 0 : (unsigned)(v > 3600 ? 3600 : v);
		}
	}
	out->body_off = (size_t)(eol + 2 - buf);
	if (clen < 0) {
		if (!closed)
			return -NC_E_TRUNCATED;
		out->body_len = len - out->body_off;
		return 0;
	}
	if ((size_t)clen > len - out->body_off)
		return closed ? -NC_E_MALFORMED : -NC_E_TRUNCATED;
	out->body_len = (size_t)clen;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to become ready for ev until the deadline; 0, or -NC_E_TIMEOUT / -errno. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		struct pollfd p = {.fd = fd, .events = ev};
		int rc;
		if (left <= 0)
			return -NC_E_TIMEOUT;
		rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc == 0)
			return -NC_E_TIMEOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int connect_to(const struct nc_http_url *url, int64_t deadline)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	int fd = -1, rc = -ECONNREFUSED;

	if (getaddrinfo(url->host, url->port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && (rc = wait_fd(fd, POLLOUT, deadline)) == 0)) {
			int soerr = 0;
			socklen_t sl = sizeof(soerr);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
			if (soerr == 0)
				break;
			rc = -soerr;
		} else if (errno != EINPROGRESS) {
			rc = -errno;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : rc;
}

static int send_all(int fd, const char *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			int rc = wait_fd(fd, POLLOUT, deadline);
			if (rc < 0)
				return rc;
		} else {
			return w < 0 ? -errno : -EPIPE;
		}
	}
	return 0;
}

/* The collector's rule for an Idempotency-Key; it also keeps the header line whole. */
static bool key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n < 8 || n > 64)
		return false;
	for (; *k; k++)
		if (!isalnum((unsigned char)*k) && *k != '_' && *k != '-')
			return false;
	return true;
}

int nc_http_post(const struct nc_http_url *url, const char *idem_key, const char *body, size_t len,
		 unsigned timeout_ms, struct nc_http_response *resp, char *bodybuf, size_t bodycap)
{
	int64_t deadline = now_ms() + (timeout_ms ? timeout_ms : 10000);
	char head[1536], *buf = NULL;
	size_t have = 0;
	bool v6 = strchr(url->host, ':') != NULL;
	int fd, rc, hl;

	if (idem_key && !key_ok(idem_key))
		return -NC_E_INVALID;
	fd = connect_to(url, deadline);
	if (fd < 0)
		return fd;
	hl = snprintf(head, sizeof(head),
		      "POST %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: natcheck/%s\r\n"
		      "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		      "%s%s%sConnection: close\r\n\r\n",
		      url->path, v6 ? "[" : "", url->host, v6 ? "]" : "", url->port, NC_VERSION,
		      len, idem_key ? "Idempotency-Key: " : "", idem_key ? idem_key : "",
		      idem_key ? "\r\n" : "");
	if (hl < 0 || (size_t)hl >= sizeof(head)) {
		rc = -NC_E_NOSPACE;
		goto out;
	}
	if ((rc = send_all(fd, head, (size_t)hl, deadline)) < 0 ||
	    (rc = send_all(fd, body, len, deadline)) < 0)
		goto out;
	buf = malloc(RESP_MAX);
	if (!buf) {
		rc = -NC_E_NOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r;
		if ((rc = wait_fd(fd, POLLIN, deadline)) < 0)
			goto out;
		r = recv(fd, buf + have, RESP_MAX - have, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		have += (size_t)r;
		rc = nc_http_response_parse(buf, have, r == 0 || have == RESP_MAX, resp);
		if (rc != -NC_E_TRUNCATED)
			break;
	}
	if (rc == 0 && bodybuf && bodycap) {
		size_t n = resp->body_len < bodycap - 1 ? resp->body_len : bodycap - 1;
		memcpy(bodybuf, buf + resp->body_off, n);
		bodybuf[n] = '\0';
	}
out:
	free(buf);
	close(fd);
	return rc;
}
