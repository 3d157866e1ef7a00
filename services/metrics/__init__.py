"""metrics: projections of every event, the stats API and the operators' dashboard."""
