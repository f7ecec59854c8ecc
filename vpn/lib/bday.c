#include "bday.h"

#include <string.h>

#include "since.h"

/* splitmix64: a fast generator for probe ports (unpredictable ports are not a secret; the
 * seed is random so two peers never walk the same sequence). */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void bday_start(struct bday *b, enum bday_role role, const struct nc_addr *target,
		uint64_t seed, uint64_t now)
{
	b->role = role;
	b->result = role == BDAY_NONE ? BDAY_IDLE : BDAY_RUNNING;
	b->target = *target;
	b->start_ms = now;
	b->end_ms = 0;
	b->sent = 0;
	nc_bucket_init(&b->pace, 1, now); /* one probe at once */
	b->hit_port = 0;
	b->hold = false;
	b->confirms = b->hits = 0;
	b->rng = seed;
	memset(b->tried, 0, sizeof(b->tried));
	if (role != BDAY_NONE)
		b->attempts++;
}

static unsigned budget(const struct bday *b)
{
	return b->role == BDAY_HARD ? BDAY_SOCKETS : 65536 - BDAY_PORT_MIN;
}

unsigned bday_due(struct bday *b, uint64_t now)
{
	uint64_t due;

	if (b->result != BDAY_RUNNING)
		return 0;
	if (vpn_since(now, b->start_ms) >= BDAY_FOR_MS) {
		b->result = BDAY_GAVE_UP;
		b->end_ms = now;
		return 0;
	}
	/* A bucket of a tenth of a second: no catching up after a pause. */
	due = nc_bucket_refill(&b->pace, BDAY_PPS, BDAY_PPS / 10, now);
	if (b->hold || b->hit_port) /* not ready, or confirming a hit: no spraying */
		return 0;
	if (due > budget(b) - b->sent)
		due = budget(b) - b->sent;
	return (unsigned)due;
}

uint16_t bday_next_port(struct bday *b)
{
	const unsigned span = 65536 - BDAY_PORT_MIN;

	if (b->sent >= span)
		return 0;
	/* Random draws while most ports are untried; a linear walk from a random start finds the
	 * few left late in a long attempt. */
	for (;;) {
		unsigned port = BDAY_PORT_MIN + (unsigned)(next_rand(&b->rng) % span);

		for (unsigned k = 0; k < 64; k++) {
			unsigned q = BDAY_PORT_MIN + (port - BDAY_PORT_MIN + k) % span;

			if (!(b->tried[q / 8] & (1u << (q % 8)))) {
				b->tried[q / 8] |= (uint8_t)(1u << (q % 8));
				return (uint16_t)q;
			}
		}
	}
}

void bday_sent(struct bday *b)
{
	b->sent++;
	nc_bucket_spend(&b->pace, 1);
}

void bday_hold(struct bday *b, bool hold)
{
	b->hold = hold;
}

void bday_hit(struct bday *b, uint16_t port, uint64_t now)
{
	if (b->result != BDAY_RUNNING || b->role != BDAY_EASY || !port)
		return;
	b->hits++;
	b->hit_port = port;
	b->confirms = 0;
	b->next_confirm_ms = now;
}

uint16_t bday_confirm_due(struct bday *b, uint64_t now)
{
	if (b->result != BDAY_RUNNING || !b->hit_port || now < b->next_confirm_ms)
		return 0;
	if (b->confirms >= BDAY_CONFIRM_TRIES) {
		b->hit_port = 0;
		return 0;
	}
	b->confirms++;
	b->next_confirm_ms = now + BDAY_CONFIRM_MS;
	return b->hit_port;
}

void bday_won(struct bday *b, uint64_t now)
{
	if (b->result != BDAY_RUNNING)
		return;
	b->result = BDAY_WON;
	b->end_ms = now;
	b->wins++;
}

uint64_t bday_elapsed_ms(const struct bday *b, uint64_t now)
{
	if (b->result == BDAY_IDLE)
		return 0;
	return vpn_since(b->result == BDAY_RUNNING ? now : b->end_ms, b->start_ms);
}

const char *bday_role_name(enum bday_role r)
{
	return r == BDAY_HARD ? "hard" : r == BDAY_EASY ? "easy" : "none";
}

const char *bday_result_name(enum bday_result r)
{
	static const char *const names[] = {"idle", "running", "won", "gave up"};

	return (size_t)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}
