package metrics

import "time"

// Bucket is one day, week or month of a grouped period, clipped to it.
type Bucket struct {
	From, To time.Time
	Key      string
}

// Buckets splits [from, to) into the day, week or month buckets of groupBy,
// the first and last clipped to the period. Any other groupBy gives none.
func Buckets(from, to time.Time, groupBy string) []Bucket {
	// An unaligned from would otherwise give [from, from) a bucket of its own.
	if !isTimeGroup(groupBy) || !from.Before(to) {
		return nil
	}
	var out []Bucket
	for b := BucketStart(from, groupBy); b.Before(to); b = nextBucket(b, groupBy) {
		end := nextBucket(b, groupBy)
		out = append(out, Bucket{From: maxTime(b, from), To: minTime(end, to), Key: BucketKey(b, groupBy)})
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
