"""Operators' tools: watch the event stream, inspect and redrive dead letters."""
