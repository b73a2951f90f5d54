"""Exceptions the command line turns into a one-line message instead of a traceback."""


class UserError(Exception):
    """Bad input from the user: a file, key or value, with what was expected."""


class ConfigError(UserError):
    """A config file or override has an unknown key, a wrong type or a value out of range."""


class CircuitError(UserError):
    """A circuit file is missing, malformed or describes an impossible loop."""
