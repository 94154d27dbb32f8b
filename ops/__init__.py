"""Operations tooling: the local statsd → Graphite pipeline and its dashboards (docs/operations.md)."""
