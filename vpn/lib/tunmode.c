/* The TX thread's judgement of its load (tunmode.h). */
#include "tunmode.h"

#include "since.h"

void tunmode_start(struct tunmode_win *w, uint64_t now_ms)
{
	w->start_ms = now_ms;
	w->pkts = 0;
}

bool tunmode_light(struct tunmode_win *w, uint64_t now_ms, unsigned pkts)
{
	bool light;

	if (vpn_since(now_ms, w->start_ms) < TUNMODE_WINDOW_MS) {
		w->pkts += pkts;
		return false;
	}
	light = w->pkts < TUNMODE_LIGHT_PKTS;
	tunmode_start(w, now_ms);
	w->pkts = pkts;
	return light;
}
