package store

// JobsQueued is signalled after a commit that may have queued jobs (ingest,
// Enqueue, UpsertContact), so the job runner looks at once rather than at
// its next poll, and is not woken by the deliveries that queued nothing.
// Signals coalesce; it has one consumer.
func (s *Store) JobsQueued() <-chan struct{} { return s.jobs }

func (s *Store) notifyJobs() {
	select {
	case s.jobs <- struct{}{}:
	default:
	}
}
