-- Due jobs are claimed in (run_at, id) order; with run_at alone, many jobs due at the same
-- instant (a burst queued at once) had to be read and sorted whole for every claim.
DROP INDEX jobs_due_idx;
CREATE INDEX jobs_due_idx ON jobs (run_at, id) WHERE status = 'queued';
