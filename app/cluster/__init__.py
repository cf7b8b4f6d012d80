"""Many nodes on one PostgreSQL database: leases, forwarding, wake-ups (DESIGN.md section 6)."""
