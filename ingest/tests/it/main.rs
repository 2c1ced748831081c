//! Integration tests of the log: what survives a process that is killed at random moments.

mod contract;
mod kill;
