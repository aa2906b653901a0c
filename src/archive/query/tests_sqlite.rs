//! End-to-end tests against SQLite.
