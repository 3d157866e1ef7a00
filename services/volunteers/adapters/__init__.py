"""The volunteers service's I/O: its store, read models and the outside world."""
