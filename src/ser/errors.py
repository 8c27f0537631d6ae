"""The exceptions `ser` raises on purpose.

Every error a user can cause (a bad file, a bad folder, a bad model path) is a `SerError`,
whose message names the thing at fault and says what is wrong with it. The CLI and the REST
service print that message instead of a traceback; anything else escaping is a bug.
"""


class SerError(Exception):
    """Base class of every error `ser` raises for bad input."""


class CorpusError(SerError):
    """A corpus folder or manifest cannot be read as asked."""


class SplitError(SerError):
    """A split cannot be made, or would put one speaker on both sides."""


class ModelError(SerError):
    """A model file or folder is missing, incomplete or of an unknown format."""
