"""MongoDB access: client factory, aggregate store with outbox, relay, processed-event ledger."""
