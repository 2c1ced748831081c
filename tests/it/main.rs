//! End-to-end tests of the whole marketplace: the router, the command path, the real log and the
//! real Delta lake in a temporary directory.

mod accounts;
mod analytics;
mod api_contract;
mod browser;
mod catalog;
mod dataflow;
mod media;
mod orders;
mod python_readers;
mod realtime;
mod recommender;
mod support;
