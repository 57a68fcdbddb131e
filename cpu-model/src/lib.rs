//! cpu-model
