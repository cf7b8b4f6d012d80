"""Events out: outbound webhook deliveries."""
