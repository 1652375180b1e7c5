from .checkpoint_loading import (UnsafeCheckpointError, load_local_checkpoint,
                                 register_checkpoint_loader,
                                 trusted_checkpoints)
from .user_input_error import UserInputError
from .version_guard import check_stack, check_version

__all__ = [
    'load_local_checkpoint', 'register_checkpoint_loader', 'check_stack',
    'check_version', 'trusted_checkpoints', 'UnsafeCheckpointError',
    'UserInputError'
]
