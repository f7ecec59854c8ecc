/* One classification from begin to finish: the classifier's notes are regenerated, the
 * probes' notes kept, so that re-classifying a result twice changes nothing. */
#include "classify_evidence.h"

#include <string.h>

void nc_classify_begin(struct nc_result *r)
{
	unsigned k = 0;

	for (unsigned i = 0; i < r->n_notes && i < NC_MAX_NOTES; i++) {
		if (r->notes_derived & (1u << i))
			continue;
		if (k != i)
			memcpy(r->notes[k], r->notes[i], NC_NOTE_LEN);
		k++;
	}
	r->n_notes = (uint8_t)k;
	r->notes_derived = 0;
	r->classifying = true;
}

void nc_classify_finish(struct nc_result *r)
{
	if (r->revision >= 2) {
		nc_classify_bounce(r);
		nc_classify_tcp(r);
		nc_classify_hops(r);
	} else if (r->tcp.tested || r->topology.nat_layers >= 0) {
		/* Written before revision 2 recorded their evidence: what it says stands. */
		nc_result_note(r, "classifier: TCP and topology verdicts kept as recorded: this "
				  "document (revision 1) has no evidence to re-derive them from");
	}
	nc_classify_stability(r);
	r->classifying = false;
}
