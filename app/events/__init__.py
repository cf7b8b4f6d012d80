"""Events out (DESIGN.md section 7): the outbox's sequencer, outbound webhook
deliveries, the live feed and retention."""
