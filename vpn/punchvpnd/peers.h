/* punchvpnd's registration table: one entry per public key, found by key, by relay id and by
 * the UDP endpoint it registered from.
 *
 * Fixed capacity, allocated once. An entry is created only for a key whose registration
 * opened (so unauthenticated traffic cannot fill the table) and keeps the box key of that
 * X25519 computation for as long as it stays in the table, live or expired: a peer's later
 * registrations cost no Diffie-Hellman. When the table is full the least recently registered
 * entry gives its place up.
 *
 * Relay ids: a keyed hash (SipHash, a random key per server run) of the public key, so a
 * key keeps its id for the server's whole life even if its entry is evicted and comes back;
 * a rare collision with another entry's id moves the newcomer to the next hash of the
 * sequence. Ids mean nothing across restarts: INTRO tells peers the current ones.
 *
 * Index hashes are keyed too, so no outsider can aim keys at one bucket. */
#ifndef PVD_PEERS_H
#define PVD_PEERS_H

#include "pvd.h"

#define PVD_MAX_WANTS 256 /* a peer's live wants, over all its REGISTER messages */
/* Keys cost nothing to make, so anyone can fill the table with peers that each want
 * PVD_MAX_WANTS others: all wants together are held to this many per table slot (65536 slots:
 * about 60 MB of wants at most, instead of 900 MB). */
#define PVD_WANTS_PER_SLOT 16
#define PVD_NONE	   UINT32_MAX

struct pvd_want {
	uint8_t pub[VPN_KEY_LEN];
	uint64_t expires_ms;
	/* Introduction state of the pair (kept on both sides' want entries alike). */
	uint64_t intro_ms; /* last INTRO of the pair, 0 = never */
	uint32_t gen_me;   /* this peer's info generation at that INTRO */
	uint32_t gen_them; /* the other's */
};

struct pvd_peer {
	uint8_t pub[VPN_KEY_LEN];
	uint8_t boxkey[32];
	bool in_use;
	bool registered;   /* a registration younger than COORD_WANT_TTL_S */
	uint32_t slot_gen; /* bumped whenever the slot changes hands */
	uint32_t relay_id;
	uint32_t gen;	  /* bumped when what an INTRO says about the peer changes */
	uint64_t last_ts; /* the client timestamp of its last accepted REGISTER */
	uint64_t last_reg_ms;
	struct nc_addr udp_ep; /* where its last UDP registration came from (family 0: none) */
	int udp_lidx;	       /* on which listening socket */
	int tcp_idx;	       /* its TCP connection (-1: none) and that connection's gen */
	uint32_t tcp_gen;
	struct nc_addr tcp_ep;
	bool last_tcp; /* its last registration came over TCP */
	struct coord_profile prof;
	struct nc_addr local[COORD_MAX_LOCAL];
	size_t n_local;
	struct pvd_want *wants;
	size_t n_wants, cap_wants;
	struct pvd_bucket pkts, bytes;
	/* table links */
	uint32_t next_pub, next_id, next_ep, lru_prev, lru_next;
};

struct pvd_peers {
	struct pvd_peer *p;
	uint32_t cap, used, free_head;
	uint32_t nb; /* buckets per index, a power of two */
	uint32_t *h_pub, *h_id, *h_ep;
	uint32_t lru_old, lru_new; /* least and most recently registered */
	size_t wants_total, wants_budget;
	uint8_t hkey[16], idkey[16];
};

int pvd_peers_init(struct pvd_peers *t, uint32_t cap);
void pvd_peers_free(struct pvd_peers *t);

struct pvd_peer *pvd_peer_by_pub(struct pvd_peers *t, const uint8_t pub[VPN_KEY_LEN]);
struct pvd_peer *pvd_peer_by_id(struct pvd_peers *t, uint32_t id);
struct pvd_peer *pvd_peer_by_ep(struct pvd_peers *t, const struct nc_addr *ep);

/* A new entry for pub holding boxkey; the least recently registered entry is evicted when the
 * table is full (*evicted set). Never fails once the table is initialised. */
struct pvd_peer *pvd_peer_add(struct pvd_peers *t, const uint8_t pub[VPN_KEY_LEN],
			      const uint8_t boxkey[32], bool *evicted);
/* Marks p as the most recently registered. */
void pvd_peer_touch(struct pvd_peers *t, struct pvd_peer *p);
/* Sets p's UDP endpoint (family 0: none); another entry holding the same endpoint loses it
 * (one socket, one registrant: the latest). */
void pvd_peer_set_udp(struct pvd_peers *t, struct pvd_peer *p, const struct nc_addr *ep);
/* Ends p's registration (expiry): endpoint and wants go, the key, its box key and its relay
 * id stay. */
void pvd_peer_unregister(struct pvd_peers *t, struct pvd_peer *p);
uint32_t pvd_peer_index(const struct pvd_peers *t, const struct pvd_peer *p);

/* p's live want for pub, or NULL. */
struct pvd_want *pvd_want_find(struct pvd_peer *p, const uint8_t pub[VPN_KEY_LEN], uint64_t now_ms);
/* Adds or refreshes p's want for pub until now + ttl. At PVD_MAX_WANTS the entry closest to
 * expiry is replaced (*dropped set: a live one was). NULL when the table's want budget is
 * spent and p has no expired entry to reuse, or out of memory. */
struct pvd_want *pvd_want_refresh(struct pvd_peers *t, struct pvd_peer *p,
				  const uint8_t pub[VPN_KEY_LEN], uint64_t now_ms, uint64_t ttl_ms,
				  bool *dropped);

/* Whether a lists b and b lists a, both live registrations with live wants. */
bool pvd_mutual(struct pvd_peer *a, struct pvd_peer *b, uint64_t now_ms);

#endif
