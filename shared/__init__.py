"""Code every Tongxin service shares: events, Kafka and MongoDB plumbing, auth, settings."""
