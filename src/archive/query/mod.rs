//! The 5800 query language: being written.
