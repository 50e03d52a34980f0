"""Configuration: settings from ``config.toml`` and the environment, and logging."""
