"""Everything Kafka: broker set-up, the one consumer runner, the outbox and its relay, and
the registry read model other services follow."""
