-- The request rate limit (issue 19 §5): how many requests each caller (a user, an API client, a
-- coachee link) was served in a window of the limit, added up by every instance of the service,
-- so the limit holds for the service as a whole. Windows are aligned to the epoch; a caller's
-- rows of past windows are deleted when its next window begins, and the worker sweeps the rest.
CREATE TABLE request_counts (
    caller       TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    requests     BIGINT NOT NULL,
    PRIMARY KEY (caller, window_start)
);
