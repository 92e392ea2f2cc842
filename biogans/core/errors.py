"""User-facing errors.

Everything a user can get wrong (a path, a config value, a file) raises a subclass of
:class:`BiogansError` whose message names the culprit.  Entry points print these
messages without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class BiogansError(Exception):
    """An error caused by input (data, config, files), with a message meant for the user."""


class DataError(BiogansError):
    """A dataset on disk is missing, malformed or does not match the config."""


class ConfigError(BiogansError):
    """A configuration value is invalid or inconsistent with the data or checkpoint."""


class CheckpointError(BiogansError):
    """A checkpoint file is missing, corrupt, or of the wrong kind."""


class TrainingError(BiogansError):
    """Training cannot go on (for example a loss became NaN or infinite)."""
