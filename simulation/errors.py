"""User-facing errors: the CLI prints these as one line and exits with status 2."""


class ConfigError(ValueError):
    """A configuration value is invalid: names the key, the value and what is allowed."""

    def __init__(self, key: str, value, allowed: str):
        self.key = key
        self.value = value
        self.allowed = allowed
        super().__init__(f"invalid config: {key}={value!r}: {allowed}")
