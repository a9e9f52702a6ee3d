"""What eskit is measured against, on the same workloads: raw SQL (the limit) and the
``eventsourcing`` library (the peer)."""
