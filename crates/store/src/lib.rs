//! Persistence: SQLite (default) and PostgreSQL backends, analysis queue, audit trail.
