"""The error of a checkpoint that does not fit the model it is loaded into."""
from cspr_det.utils.user_input_error import UserInputError


class CheckpointMismatchError(UserInputError, ValueError):
    """A checkpoint does not fit the model it is loaded into (keys,
    shapes, or the recorded backbone architecture: its subclass
    :class:`~cspr_det.models.utils.ArchitectureMismatchError`)."""
