"""User-facing errors: the CLI prints these as one line and exits with status 2."""

NO_VALUE = object()  # the key was given without a value (e.g. a bare word on the command line)


class ConfigError(ValueError):
    """A configuration value is invalid: names the key, the value and what is allowed."""

    def __init__(self, key: str, value, allowed: str):
        self.key = key
        self.value = value
        self.allowed = allowed
        given = f"{key}" if value is NO_VALUE else f"{key}={value!r}"
        super().__init__(f"invalid config: {given}: {allowed}")

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.key, self.value, self.allowed))
