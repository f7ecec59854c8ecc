/* Private to the report: the accumulated statistics the writers read. */
#ifndef RP_REPORT_IMPL_H
#define RP_REPORT_IMPL_H

#include "report.h"

#define RP_NAME_LEN  204
#define RP_NO_VENDOR "(vendor not given)"
#define RP_NBEH	     5 /* enum nc_beh */
#define RP_NCLASSIC  9
#define RP_NCLASS    (RP_NBEH * RP_NBEH) /* mapping x filtering */
#define RP_NLIFE     8 /* <30, 30-59, 60-119, 120-179, 180-299, 300-599, >=600 s, not measured */

extern const char *const rp_classic_words[RP_NCLASSIC];

struct rp_group {
	char key[RP_NAME_LEN];
	char name[RP_NAME_LEN];
	unsigned reports;
	struct rp_cell cell[RP_NCOL];
};

struct rp_stats {
	struct rp_group *g;
	size_t ng, cap;
	struct rp_group all;
	unsigned total, skipped, nat_reports;
	unsigned mf[RP_NBEH][RP_NBEH]; /* [mapping][filtering] */
	unsigned classic[RP_NCLASSIC];
	unsigned alloc[4];	     /* enum nc_alloc */
	unsigned parity[3];	     /* yes, no, unknown (of results with a pattern) */
	unsigned preserve[3];	     /* port preservation of NAT reports */
	unsigned pm[NC_PM_COUNT][4]; /* present, absent, unknown, not tested */
	unsigned layers[5];	     /* 0, 1, 2, 3+, unknown */
	unsigned cgnat[3], double_nat[3];
	unsigned life[RP_NLIFE];
	unsigned hp_src[4]; /* enum nc_hairpin_src, of NAT reports that hairpin */
	unsigned unsol[6];  /* dropped, rst, icmp, accepted, other, not tested */
	/* Punch outcomes: [lower class][higher class][method], class = mapping * 5 + filtering. */
	unsigned outcomes;
	struct rp_cell punch[RP_NCLASS][RP_NCLASS][NC_METHOD_COUNT];
};

/* The punch outcome section (punch.c), for the two writers. */
void rp_write_punch_markdown(const struct rp_stats *st, FILE *f);
void rp_write_punch_html(const struct rp_stats *st, FILE *f);

#endif
