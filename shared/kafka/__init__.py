"""Kafka plumbing: the producer, the one consumer runner, topic administration."""
