"""The one exception type users see: a message naming the key, file or step at fault."""


class SciflowError(Exception):
    """A user-facing error. The message names the file, key path or training step at fault."""
