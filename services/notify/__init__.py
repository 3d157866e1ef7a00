"""notify: the right people hear about each event, on their channel, exactly once."""
