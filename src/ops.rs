//! Operations: health, readiness and Prometheus metrics over HTTP, and the admin listener.
