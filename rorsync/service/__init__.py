"""The daemon: scheduler, resync requests, signals, systemd integration, health and metrics."""
