//! Integration tests of the log and the lake sink: the contract every log backend keeps, and what
//! survives a process that is killed at random moments.

mod child;
mod contract;
mod kill;
mod sink_kill;
