from .checkpoint import load_local_checkpoint, register_checkpoint_loader
from .version_guard import check_stack, check_version

__all__ = [
    'load_local_checkpoint', 'register_checkpoint_loader', 'check_stack',
    'check_version'
]
