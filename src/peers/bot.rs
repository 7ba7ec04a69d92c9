//! Bot client (in progress).
