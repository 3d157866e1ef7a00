"""The metrics service's use cases: commands, queries and the event-handler registry."""
