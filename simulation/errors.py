"""User-facing errors: the CLI prints these as one line and exits with status 2."""

NO_VALUE = object()  # the key was given without a value (e.g. a bare word on the command line)


class ConfigError(ValueError):
    """A configuration value is invalid: names the key, the value and what is allowed."""

    def __init__(self, key: str, value, allowed: str):
        self.key = key
        self.value = value
        self.allowed = allowed
        shown = repr(value)
        if len(shown) > 120:  # one line stays readable: a 5,000-character value is cut
            shown = f"{shown[:80]}... ({len(shown)} characters)"
        key_text = key if str(key).isprintable() else repr(key)  # a newline in a key stays on the line
        given = f"{key_text}" if value is NO_VALUE else f"{key_text}={shown}"
        super().__init__(f"invalid config: {given}: {allowed}")

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.key, self.value, self.allowed))
