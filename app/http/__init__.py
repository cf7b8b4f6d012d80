"""HTTP plumbing: callers, errors in one shape, bodies, rate limits, CORS, request logs."""
