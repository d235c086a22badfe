package store

import (
	"context"
	"fmt"

	"github.com/recontact/recontact"
)

// IngestBatch commits many deliveries in one transaction (backfill, import):
// each with Ingest's semantics (a seen key is a duplicate and changes nothing,
// older snapshots never overwrite newer ones, jobs are queued), and all or
// none: if any delivery is invalid or a write fails, nothing is committed and
// the error names the delivery by its index. dup[i] reports ds[i].
func (s *Store) IngestBatch(ctx context.Context, ds []*recontact.Delivery) (dup []bool, err error) {
	if len(ds) == 0 {
		return nil, nil
	}
	reqs := make([]*ingestReq, len(ds))
	idx := make(map[*ingestReq]int, len(ds))
	for i, d := range ds {
		reqs[i] = &ingestReq{ctx: ctx, d: d}
		idx[reqs[i]] = i
	}
	// A deadlock undoes the whole transaction when it hits outside a
	// savepoint retry; the batch is then run again as a whole.
	for attempt := 0; ; attempt++ {
		var results []ingestResult
		results, err = s.commitBatch(ctx, reqs, true)
		if err == nil {
			dup = make([]bool, len(ds))
			for j, r := range reqs {
				dup[idx[r]] = results[j].duplicate
			}
			return dup, nil
		}
		if !retryable(err) || attempt == 2 {
			for j, r := range reqs {
				if results[j].err != nil {
					return nil, fmt.Errorf("delivery %d (%s): %w", idx[r], r.d.Key, results[j].err)
				}
			}
			return nil, classify(err)
		}
	}
}
