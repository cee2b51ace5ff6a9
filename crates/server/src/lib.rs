//! HTTPS serving: admission webhook, REST API mount, metrics, health, TLS reload.
