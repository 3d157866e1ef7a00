"""The four Tongxin services; each owns its data and talks to the others only through events."""
