"""The one exception type users see: a message naming the key, file or step at fault."""


class SciflowError(Exception):
    """A user-facing error. The message names the file, key path or training step at fault."""


class Diverged(SciflowError):
    """The loss or the weights became non-finite; the message names the checkpoint to resume from."""


class Interrupted(SciflowError):
    """Training stopped on a signal (SIGINT, SIGTERM, SIGUSR1) after writing a resumable checkpoint."""

    def __init__(self, message: str, signum: int, step: int):
        super().__init__(message)
        self.signum, self.step = signum, step

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports a process stopped by it (130 for SIGINT)."""
        return 128 + self.signum
