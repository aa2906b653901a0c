//! The 5800 metadata schema (XML): being written.
