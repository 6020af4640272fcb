//! # doppel-plan
