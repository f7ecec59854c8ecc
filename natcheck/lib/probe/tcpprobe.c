#include "tcpprobe.h"

#include "cursor.h"
#include <natcheck/error.h>
#include "ncproto.h"
#include "stun.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MSG_CAP 1024

struct cb {
	bool asked;
	uint8_t ticket[NCP_TICKET_LEN];
	struct nc_addr origin;
	struct ncp_result res;
	bool have_res;
};

struct run {
	const struct nc_tcp_cfg *cfg;
	struct nc_result *r;
	uint64_t t0;
	unsigned to_ms;
	struct nc_addr local;
};

#define TRACE(run, ...) nc_tracef((run)->cfg->trace, (run)->cfg->trace_arg, (run)->t0, __VA_ARGS__)

/* --- sockets ------------------------------------------------------------------------------ */

static int tcp_sock(const struct nc_addr *local, uint16_t port)
{
	struct sockaddr_storage ss;
	struct nc_addr a = *local;
	socklen_t sl;
	int fd, one = 1;

	fd = socket(local->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* NAT Check's trick: a listener and several outgoing connections on one local port. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	a.port = port;
	sl = nc_addr_to_sockaddr(&a, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	return fd;
fail:
	one = -errno;
	close(fd);
	return one;
}

/* A listener on a fresh random port from the dynamic range (RFC 6335). */
static int tcp_listener(const struct nc_addr *local, uint16_t *port)
{
	for (int tries = 0; tries < 64; tries++) {
		uint16_t p = (uint16_t)(49152 + randombytes_uniform(16384));
		int fd = tcp_sock(local, p);
		if (fd == -EADDRINUSE)
			continue;
		if (fd < 0)
			return fd;
		if (listen(fd, 16) < 0) {
			int err = -errno;
			close(fd);
			if (err == -EADDRINUSE)
				continue;
			return err;
		}
		*port = p;
		return fd;
	}
	return -EADDRINUSE;
}

static int tcp_connect_start(const struct nc_addr *local, uint16_t port, const struct nc_addr *to)
{
	struct sockaddr_storage ss;
	socklen_t sl = nc_addr_to_sockaddr(to, &ss);
	int fd = tcp_sock(local, port);

	if (fd < 0)
		return fd;
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int wait_fd(int fd, short ev, uint64_t deadline_us)
{
	for (;;) {
		uint64_t now = nc_now_us();
		struct pollfd p = {.fd = fd, .events = ev};
		int n;

		if (now >= deadline_us)
			return -NC_E_TIMEOUT;
		n = poll(&p, 1, (int)((deadline_us - now + 999) / 1000));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n > 0)
			return p.revents;
	}
}

/* 0 when connected, else -errno or -NC_E_TIMEOUT. */
static int connect_finish(int fd, uint64_t deadline_us)
{
	int err = 0, rv = wait_fd(fd, POLLOUT, deadline_us);
	socklen_t el = sizeof(err);

	if (rv < 0)
		return rv;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		return -errno;
	return err ? -err : 0;
}

static int write_all(int fd, const uint8_t *buf, size_t len, uint64_t deadline_us)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int rv = wait_fd(fd, POLLOUT, deadline_us);
			if (rv < 0)
				return rv;
			continue;
		}
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

/* One STUN message off a stream (RFC 8489 §6.2.2): the header, then its declared length. */
static int read_msg(int fd, uint8_t *buf, size_t cap, uint64_t deadline_us)
{
	size_t have = 0, want = STUN_HEADER_LEN;

	while (have < want) {
		ssize_t n = read(fd, buf + have, want - have);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int rv = wait_fd(fd, POLLIN, deadline_us);
			if (rv < 0)
				return rv;
			continue;
		}
		if (n < 0)
			return -errno;
		have += (size_t)n;
		if (have == STUN_HEADER_LEN && want == STUN_HEADER_LEN) {
			want += nc_get_n16(buf + 2);
			if (want > cap || (buf[0] & 0xC0))
				return -NC_E_MALFORMED;
		}
	}
	return (int)have;
}

/* Sends a request on a connected stream and reads the answer with the same transaction id. */
static int tcp_transact(int fd, const uint8_t *req, size_t len, uint8_t *ans, size_t cap,
			uint64_t deadline_us, struct stun_msg *m)
{
	int n = write_all(fd, req, len, deadline_us);

	if (n < 0)
		return n;
	for (;;) {
		if ((n = read_msg(fd, ans, cap, deadline_us)) < 0)
			return n;
		if (stun_decode(ans, (size_t)n, m) < 0)
			return -NC_E_MALFORMED;
		if (memcmp(m->tid, req + 8, STUN_TID_LEN) == 0)
			return n;
	}
}

static int binding(int fd, uint64_t deadline_us, struct nc_addr *mapped, struct nc_addr *other)
{
	uint8_t req[64], ans[MSG_CAP], tid[STUN_TID_LEN];
	struct stun_msg m;
	int n;

	randombytes_buf(tid, sizeof(tid));
	n = stun_binding_request(req, sizeof(req), tid, 0, 0);
	if (n < 0 || (n = tcp_transact(fd, req, (size_t)n, ans, sizeof(ans), deadline_us, &m)) < 0)
		return n < 0 ? n : -NC_E_MALFORMED;
	if (m.cls != STUN_CLASS_SUCCESS)
		return -NC_E_PROTOCOL;
	*mapped = (m.has & STUN_HAS_XOR_MAPPED) ? m.xor_mapped : m.mapped;
	if (other)
		*other = (m.has & STUN_HAS_OTHER) ? m.other : m.changed;
	return nc_addr_is_set(mapped) ? 0 : -NC_E_PROTOCOL;
}

/* CONNECT-BACK over an established connection; fills cb on success. */
static int ask_cb(struct run *run, int fd, uint8_t origin, uint32_t wait_ms,
		  const struct nc_addr *target, struct cb *cb)
{
	struct ncp_cb_request q = {.origin = origin, .transport = NCP_PROTO_TCP, .wait_ms = wait_ms};
	uint8_t req[128], ans[MSG_CAP], tid[STUN_TID_LEN];
	struct ncp_cb_request got;
	struct stun_msg m;
	int n;

	if (target) {
		q.has_target = true;
		q.target = *target;
	}
	randombytes_buf(tid, sizeof(tid));
	n = ncp_build_cb_request(req, sizeof(req), tid, &q);
	if (n < 0)
		return n;
	n = tcp_transact(fd, req, (size_t)n, ans, sizeof(ans), nc_now_us() + run->to_ms * 1000ull, &m);
	if (n < 0)
		return n;
	if (m.cls != STUN_CLASS_SUCCESS) {
		TRACE(run, "connect-back (origin %u) refused: %u %s", origin, m.error_code, m.error_reason);
		return -NC_E_UNSUPPORTED;
	}
	if (ncp_parse_attrs(ans, (size_t)n, &got, &cb->origin, NULL, NULL) < 0 || !got.has_ticket)
		return -NC_E_PROTOCOL;
	memcpy(cb->ticket, got.ticket, NCP_TICKET_LEN);
	cb->asked = true;
	return 0;
}

static int poll_cb(struct run *run, int fd, struct cb *cb)
{
	uint8_t req[64], ans[MSG_CAP], tid[STUN_TID_LEN];
	struct stun_msg m;
	bool has = false;
	int n;

	if (!cb->asked || fd < 0)
		return -NC_E_INVALID;
	randombytes_buf(tid, sizeof(tid));
	n = ncp_build_cb_poll(req, sizeof(req), tid, cb->ticket);
	if (n < 0)
		return n;
	n = tcp_transact(fd, req, (size_t)n, ans, sizeof(ans), nc_now_us() + run->to_ms * 1000ull, &m);
	if (n < 0)
		return n;
	if (m.cls != STUN_CLASS_SUCCESS ||
	    ncp_parse_attrs(ans, (size_t)n, NULL, NULL, &cb->res, &has) < 0 || !has)
		return -NC_E_PROTOCOL;
	cb->have_res = cb->res.status != NCP_ST_PENDING;
	return 0;
}

/* --- the tests ---------------------------------------------------------------------------- */

static void set_unsolicited(struct nc_tcp_result *t, const char *word, uint32_t ms)
{
	snprintf(t->unsolicited, sizeof(t->unsolicited), "%s", word);
	t->unsolicited_ms = ms;
}

int nc_probe_tcp(const struct nc_tcp_cfg *cfg, struct nc_result *r)
{
	struct run run = {.cfg = cfg, .r = r, .t0 = nc_now_us(),
			  .to_ms = cfg->timeout_ms ? cfg->timeout_ms : 1000};
	struct nc_tcp_result *t = &r->tcp;
	uint32_t wait_ms = cfg->full ? NC_TCP_WAIT_FULL_MS : NC_TCP_WAIT_FAST_MS;
	int lp = -1, lq = -1, c1 = -1, c2 = -1, c3 = -1, cq = -1, hp = -1, so = -1, err = 0;
	uint16_t pp = 0, pq = 0;
	struct nc_addr m1 = {0}, m2 = {0}, m3 = {0}, mq = {0}, other = cfg->other, a2p1, dummy;
	struct cb bnc = {0}, cport = {0}, caddr = {0};
	bool got_bnc = false, got_port = false, got_addr = false, got_hp = false;
	uint64_t dl, t_cb = 0, unsol_at = 0;
	char s1[NC_ADDR_STRLEN], s2[NC_ADDR_STRLEN];

	memset(t, 0, sizeof(*t));
	if ((err = nc_route_source(&cfg->server, &run.local)) < 0)
		return err;
	if ((lp = tcp_listener(&run.local, &pp)) < 0 || (lq = tcp_listener(&run.local, &pq)) < 0) {
		err = lp < 0 ? lp : lq;
		goto out;
	}

	/* T1: one local port to A1:P1, then A2:P1 and A2:P2. */
	dl = nc_now_us() + run.to_ms * 1000ull;
	c1 = tcp_connect_start(&run.local, pp, &cfg->server);
	cq = tcp_connect_start(&run.local, pq, &cfg->server);
	if (c1 < 0 || connect_finish(c1, dl) < 0 || binding(c1, dl, &m1, &dummy) < 0) {
		nc_result_note(r, "tcp: no STUN answer over TCP from %s: TCP not tested",
			       nc_addr_str(&cfg->server, s1));
		goto out;
	}
	t->tested = true;
	if (!nc_addr_is_set(&other))
		other = dummy;
	TRACE(&run, "tcp: %u -> %s mapped %s", pp, nc_addr_str(&cfg->server, s1), nc_addr_str(&m1, s2));
	if (nc_addr_is_set(&other)) {
		a2p1 = other;
		a2p1.port = cfg->server.port;
		c2 = tcp_connect_start(&run.local, pp, &a2p1);
		c3 = tcp_connect_start(&run.local, pp, &other);
		if (c2 < 0 || connect_finish(c2, dl) < 0 || binding(c2, dl, &m2, NULL) < 0)
			memset(&m2, 0, sizeof(m2));
		if (c3 < 0 || connect_finish(c3, dl) < 0 || binding(c3, dl, &m3, NULL) < 0)
			memset(&m3, 0, sizeof(m3));
	}
	if (nc_addr_is_set(&m2) && nc_addr_is_set(&m3)) {
		bool e12 = nc_addr_eq(&m1, &m2), e23 = nc_addr_eq(&m2, &m3);
		bool none = nc_addr_eq(&m1, &run.local);
		t->consistent = e12 && e23 ? NC_TRI_YES : NC_TRI_NO;
		t->mapping = none && e12 && e23 ? NC_BEH_NONE
			     : e12 && e23	? NC_BEH_EI
			     : e23		? NC_BEH_AD
						: NC_BEH_APD;
	} else {
		nc_result_note(r, "tcp: mapping: no TCP answer from the alternate address");
	}

	/* T2: the bouncer's SYN toward p's mapping (wait + room for the simultaneous open). */
	if (ask_cb(&run, c1, NCP_ORIGIN_BOUNCER, wait_ms + 3000, &m1, &bnc) < 0)
		nc_result_note(r, "tcp: the server offers no bouncer: unsolicited SYN and "
				  "simultaneous open not tested");
	t_cb = nc_now_us();
	/* T5 on q, and T4 toward q's mapping. */
	if (cq >= 0 && connect_finish(cq, dl) == 0 && binding(cq, dl, &mq, NULL) == 0) {
		if (ask_cb(&run, cq, NCP_ORIGIN_PORT, wait_ms, &mq, &cport) < 0 ||
		    ask_cb(&run, cq, NCP_ORIGIN_ADDR, wait_ms, &mq, &caddr) < 0)
			nc_result_note(r, "tcp: the server cannot connect back from its other "
					  "address and port: filtering not fully tested");
		if (!cfg->no_hairpin)
			hp = tcp_connect_start(&run.local, 0, &mq);
	}

	/* The wait: who reaches the listeners, and what the bouncer saw. */
	dl = t_cb + wait_ms * 1000ull;
	for (uint64_t next_poll = 0;;) {
		uint64_t now = nc_now_us();
		struct pollfd p[3] = {{.fd = lp, .events = POLLIN}, {.fd = lq, .events = POLLIN},
				      {.fd = hp, .events = POLLOUT}};
		if (now >= dl)
			break;
		if (bnc.asked && !bnc.have_res && now >= next_poll) {
			if (poll_cb(&run, c1, &bnc) == 0 && bnc.have_res && !unsol_at)
				unsol_at = nc_now_us();
			next_poll = now + 100000;
		}
		if (poll(p, 3, 20) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);
			struct nc_addr peer;
			int fd;

			if (!(p[i].revents & POLLIN))
				continue;
			fd = accept4(p[i].fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
			if (fd < 0 || nc_addr_from_sockaddr(&peer, (struct sockaddr *)&ss, sl) < 0) {
				if (fd >= 0)
					close(fd);
				continue;
			}
			TRACE(&run, "tcp: port %u accepted a connection from %s", i ? pq : pp,
			      nc_addr_str(&peer, s1));
			if (i == 0 && bnc.asked && nc_addr_eq(&peer, &bnc.origin)) {
				got_bnc = true;
				if (!unsol_at)
					unsol_at = nc_now_us();
			} else if (i == 1 && cport.asked && nc_addr_eq(&peer, &cport.origin)) {
				got_port = true;
			} else if (i == 1 && caddr.asked && nc_addr_eq(&peer, &caddr.origin)) {
				got_addr = true;
			} else if (i == 1) {
				got_hp = true;
			}
			close(fd);
		}
		if (hp >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
			close(hp);
			hp = -1;
		}
	}
	if (bnc.asked && !bnc.have_res)
		poll_cb(&run, c1, &bnc);

	/* T2 verdict. */
	if (got_bnc) {
		set_unsolicited(t, "accepted", (uint32_t)((unsol_at - t_cb) / 1000));
	} else if (bnc.asked && bnc.have_res && bnc.res.status != NCP_ST_CONNECTED &&
		   bnc.res.status != NCP_ST_ERROR) {
		set_unsolicited(t, ncp_unsolicited_word(&bnc.res),
				bnc.res.status == NCP_ST_TIMEOUT ? wait_ms : bnc.res.elapsed_ms);
	} else if (bnc.asked && !bnc.have_res) {
		set_unsolicited(t, "dropped", wait_ms);
	} else if (bnc.asked && bnc.res.status == NCP_ST_ERROR) {
		nc_result_note(r, "tcp: the bouncer could not connect (errno %u)", bnc.res.err);
	}
	if (t->unsolicited[0] && strncmp(t->unsolicited, "icmp", 4) == 0 && t->unsolicited_ms < 6000)
		nc_result_note(r, "tcp: the NAT answered an unsolicited SYN with ICMP after %u ms; "
				  "RFC 5382 REQ-4 asks for silence for at least 6 s",
			       t->unsolicited_ms);

	/* T3: p connects to the bouncer while its SYN is still pending. */
	if (got_bnc) {
		t->simultaneous_open = NC_TRI_YES;
		nc_result_note(r, "tcp: unsolicited SYNs reach this host, so TCP hole punching works "
				  "without a simultaneous open");
	} else if (bnc.asked && (!bnc.have_res || bnc.res.status == NCP_ST_TIMEOUT ||
				 bnc.res.status == NCP_ST_RST || bnc.res.status == NCP_ST_ICMP)) {
		so = tcp_connect_start(&run.local, pp, &bnc.origin);
		err = so < 0 ? so : connect_finish(so, nc_now_us() + run.to_ms * 1000ull);
		t->simultaneous_open = err == 0 ? NC_TRI_YES : NC_TRI_NO;
		TRACE(&run, "tcp: simultaneous open %u -> %s: %s", pp, nc_addr_str(&bnc.origin, s1),
		      err == 0 ? "connected" : nc_strerror(err));
		err = 0;
	}

	/* T5 verdict: origins that reached q's listener. */
	if (got_bnc || got_addr)
		t->filtering = NC_BEH_EI;
	else if (cport.asked && caddr.asked)
		t->filtering = got_port ? NC_BEH_AD : NC_BEH_APD;
	if (t->filtering == NC_BEH_EI && t->mapping == NC_BEH_NONE)
		t->filtering = NC_BEH_NONE;
	/* T4. */
	if (!cfg->no_hairpin && nc_addr_is_set(&mq))
		t->hairpin = got_hp ? NC_TRI_YES : NC_TRI_NO;
out:
	for (int *fd = (int[]){lp, lq, c1, c2, c3, cq, hp, so}, i = 0; i < 8; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	TRACE(&run, "tcp: done");
	return err;
}

/* --- third-party UDP ---------------------------------------------------------------------- */

int nc_probe_bounce_udp(const struct nc_bounce_cfg *cfg, int *arrived, struct nc_addr *from)
{
	struct ncp_cb_request q = {.origin = NCP_ORIGIN_BOUNCER, .transport = NCP_PROTO_UDP,
				   .wait_ms = NCP_WAIT_MIN_MS};
	uint8_t req[128], buf[MSG_CAP], tid[STUN_TID_LEN];
	struct sockaddr_storage ss;
	struct nc_addr local, bound, origin = {0};
	socklen_t sl = nc_addr_to_sockaddr(&cfg->server, &ss);
	uint64_t t0 = nc_now_us(), acked = 0, next = 0, dl;
	unsigned wait = cfg->wait_ms ? cfg->wait_ms : 500;
	int fd, n, err = 0, tries = 0;

	*arrived = -1;
	memset(from, 0, sizeof(*from));
	if ((err = nc_route_source(&cfg->server, &local)) < 0)
		return err;
	if ((fd = nc_udp_bind(&local, 0, &bound)) < 0)
		return fd;
	randombytes_buf(tid, sizeof(tid));
	n = ncp_build_cb_request(req, sizeof(req), tid, &q);
	if (n < 0) {
		close(fd);
		return n;
	}
	dl = t0 + 2000000ull; /* the acknowledgement: 4 tries, 500 ms apart */
	for (;;) {
		uint64_t now = nc_now_us();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct sockaddr_storage fs;
		socklen_t fl = sizeof(fs);
		struct nc_addr src;
		struct stun_msg m;
		ssize_t k;

		if (now >= dl)
			break;
		if (!acked && now >= next && tries < 4) {
			if (sendto(fd, req, (size_t)n, 0, (struct sockaddr *)&ss, sl) != n) {
				err = -errno;
				break;
			}
			tries++;
			next = now + 500000;
		}
		if (poll(&p, 1, 20) <= 0)
			continue;
		k = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&fs, &fl);
		if (k <= 0 || nc_addr_from_sockaddr(&src, (struct sockaddr *)&fs, fl) < 0 ||
		    stun_decode(buf, (size_t)k, &m) < 0 || memcmp(m.tid, tid, STUN_TID_LEN) != 0)
			continue;
		if (m.method == NCP_METHOD_CONNECT_BACK && nc_addr_eq(&src, &cfg->server)) {
			if (m.cls != STUN_CLASS_SUCCESS)
				break; /* no bouncer here: arrived stays -1 */
			ncp_parse_attrs(buf, (size_t)k, NULL, &origin, NULL, NULL);
			if (!acked) {
				acked = now;
				*arrived = 0;
				dl = now + wait * 1000ull;
			}
		} else if (m.method == STUN_METHOD_BINDING && m.cls == STUN_CLASS_SUCCESS &&
			   !nc_addr_ip_eq(&src, &cfg->server)) {
			/* The bouncer's datagram, from an address this socket never contacted. */
			*arrived = 1;
			*from = src;
			if (acked)
				break;
		}
	}
	nc_tracef(cfg->trace, cfg->trace_arg, t0, "bounce: %s",
		  *arrived == 1 ? "arrived" : *arrived == 0 ? "did not arrive" : "not offered");
	close(fd);
	return err;
}

void nc_bounce_fold(struct nc_result *r, int arrived, const struct nc_addr *from)
{
	struct nc_udp_result *u = &r->udp;
	char s[NC_ADDR_STRLEN];

	if (arrived < 0)
		return;
	if (arrived == 1) {
		if (u->filtering == NC_BEH_AD || u->filtering == NC_BEH_APD)
			nc_result_note(r, "filtering: a datagram from the third-party bouncer %s "
					  "arrived, but the CHANGE-REQUEST tests said %s: reporting "
					  "endpoint-independent",
				       nc_addr_str(from, s), nc_beh_name(u->filtering));
		if (u->filtering == NC_BEH_UNKNOWN)
			nc_result_note(r, "filtering: endpoint-independent, from the third-party "
					  "bouncer %s", nc_addr_str(from, s));
		if (u->filtering != NC_BEH_NONE)
			u->filtering = u->nat == NC_TRI_NO ? NC_BEH_NONE : NC_BEH_EI;
	} else if (u->filtering == NC_BEH_EI || u->filtering == NC_BEH_NONE) {
		nc_result_note(r, "filtering: the CHANGE-REQUEST test passed from the alternate "
				  "address, but the third-party bouncer's datagram did not arrive");
	}
}
