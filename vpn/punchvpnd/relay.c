/* The blind relay (coord.h, type 6). A relayed datagram is a punchvpn handshake or transport
 * message, end-to-end encrypted between the two peers' keys: the server has neither key nor
 * session, so all it can do is pass the bytes on or not. It passes them only
 *   - from the UDP endpoint a live peer registered from, or over the TCP connection it
 *     registered over (so a forged source cannot spend someone else's allowance or relay
 *     into the mesh),
 *   - to a live peer's relay id, when the two list each other,
 *   - within the source peer's packet and byte rates (token buckets of one second),
 * with the destination id replaced by the source's, over the destination's last transport. */
#include <natcheck/log.h>

#include "srv.h"

/* The live peer a relay datagram comes from, or NULL. */
static struct pvd_peer *source_peer(struct pvd_server *s, const struct pvd_src *src)
{
	struct pvd_peer *p;

	if (src->conn < 0) {
		p = pvd_peer_by_ep(&s->peers, &src->addr);
		return p && p->registered ? p : NULL;
	}
	const struct pvd_conn *c = &s->conns[src->conn];
	if (c->peer_idx == PVD_NONE || c->peer_idx >= s->peers.cap)
		return NULL;
	p = &s->peers.p[c->peer_idx];
	if (!p->in_use || p->slot_gen != c->peer_gen || !p->registered || p->tcp_idx != src->conn ||
	    p->tcp_gen != c->gen)
		return NULL;
	return p;
}

void pvd_handle_relay(struct pvd_server *s, const struct pvd_src *src, uint8_t *buf, size_t len)
{
	struct pvd_peer *from, *to;
	const uint8_t *inner;
	size_t inner_len;
	uint32_t id;
	char a[NC_ADDR_STRLEN];

	if (coord_relay_decode(buf, len, &id, &inner, &inner_len) != 0) {
		s->ctr.malformed++;
		return;
	}
	if (!(from = source_peer(s, src))) {
		s->ctr.relay_unregistered++;
		nc_log_debug_limited("relay from %s: not a registered peer's endpoint",
				     nc_addr_str(&src->addr, a));
		return;
	}
	to = pvd_peer_by_id(&s->peers, id);
	if (!to || !to->registered) {
		s->ctr.relay_no_peer++;
		return;
	}
	if (!pvd_mutual(from, to, s->now_ms)) {
		s->ctr.relay_not_mutual++;
		nc_log_debug_limited("relay from %s: the peers do not list each other",
				     nc_addr_str(&src->addr, a));
		return;
	}
	if (!pvd_bucket_take(&from->pkts, s->cfg.relay_pps, 1, s->now_ms)) {
		s->ctr.relay_rate++;
		return;
	}
	if (!pvd_bucket_take(&from->bytes, s->cfg.relay_bps, len, s->now_ms)) {
		nc_bucket_give(&from->pkts.b, 1); /* not sent: the packet token goes back */
		s->ctr.relay_rate++;
		return;
	}
	coord_put_relay_hdr(buf, from->relay_id);
	if (pvd_send_peer(s, to, buf, len) != 0) {
		s->ctr.relay_unreachable++;
		return;
	}
	s->ctr.relayed++;
	s->ctr.relayed_bytes += len;
}
