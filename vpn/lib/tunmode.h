/* Which thread reads the TUN device (device.c).
 *
 * Two threads move packets: the RX thread (sockets to TUN) and the TX thread (TUN to sockets).
 * Under load each reads its own side on its own CPU. Under a light load (a ping, an interactive
 * session) a wake-up costs more than the work it wakes for: each packet the kernel queues on
 * TUN wakes the TX thread, on the other CPU, also an answer the kernel made within the RX
 * thread's own write (an echo reply), which the RX thread then sends itself (rx_answer). On two
 * vCPUs these wake-ups were most of the round-trip time the tunnel added.
 *
 * So there are two modes:
 *   light  the RX thread also waits on TUN (in its epoll set) and sends what it reads; the TX
 *          thread sleeps. One thread, one wake-up per packet either way.
 *   heavy  the TX thread reads TUN, as a second CPU's worth of sealing needs.
 * The RX thread goes heavy when one TUN wake-up finds TUNMODE_BURST packets waiting: it
 * takes TUN out of its epoll set and wakes the TX thread, which reads what is left. The TX
 * thread goes light when a TUNMODE_WINDOW_MS window brings it fewer than TUNMODE_LIGHT_PKTS
 * packets: it puts TUN into the RX thread's epoll set (a packet already waiting is reported at
 * once: the set is level-triggered) and sleeps until woken. Only the thread that reads TUN
 * switches, so the two never disagree. The device starts heavy.
 *
 * This file is the TX thread's judgement, with the caller's clock. */
#ifndef VPN_TUNMODE_H
#define VPN_TUNMODE_H

#include <stdbool.h>
#include <stdint.h>

#define TUNMODE_WINDOW_MS 100 /* the TX thread judges its load per window this long */
#define TUNMODE_LIGHT_PKTS 64 /* fewer in a window: light (under 640 packets a second) */
#define TUNMODE_BURST 8       /* the RX thread finds this many waiting at one wake-up: heavy */

struct tunmode_win {
	uint64_t start_ms;
	unsigned pkts;
};

/* The TX thread starts (or resumes) reading TUN at now_ms: a new window. */
void tunmode_start(struct tunmode_win *w, uint64_t now_ms);

/* The TX thread read pkts packets (0: it is about to wait) at now_ms. True when a window has
 * ended with fewer than TUNMODE_LIGHT_PKTS packets: time to hand TUN to the RX thread. A window
 * that ended busy starts the next one. */
bool tunmode_light(struct tunmode_win *w, uint64_t now_ms, unsigned pkts);

#endif
