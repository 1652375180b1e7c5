"""Check the checkpoint mmengine's Runner loads (``load_from``) against the
model before it reaches the model."""
from collections import OrderedDict

from mmengine.hooks import Hook

from cspr_det.models.utils import check_model_checkpoint, read_state_dict
from cspr_det.registry import HOOKS


@HOOKS.register_module()
class CheckpointCheckHook(Hook):
    """Check the checkpoint mmengine's Runner loads (``load_from``) with
    :func:`~cspr_det.models.utils.check_model_checkpoint` before it reaches
    the model.

    mmengine itself loads ``load_from`` non-strictly and only logs a
    warning, so a wrong checkpoint would be evaluated as a random network.
    This hook runs in ``after_load_checkpoint`` (priority ``VERY_HIGH``),
    which mmengine calls between reading the file and loading it; it raises
    :class:`~cspr_det.models.utils.CheckpointMismatchError` (strict), or
    warns, and it replaces ``checkpoint['state_dict']`` by the unwrapped
    state dict it checked, so that mmengine loads exactly that. The
    cspr_det tools add it with ``runner.register_hook`` when a run loads
    (not resumes) a checkpoint; a config can list it in ``custom_hooks``
    as ``dict(type='cspr_det.CheckpointCheckHook', source=...)``.

    Args:
        source: Checkpoint name for messages.
        strict: Refuse missing / unexpected / shape-mismatched keys.
        check_arch: Refuse a recorded backbone architecture that differs.
        hint: Appended to the error message.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 source: str,
                 strict: bool = True,
                 check_arch: bool = True,
                 hint: str = '') -> None:
        self.source = source
        self.strict = strict
        self.check_arch = check_arch
        self.hint = hint

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Check ``checkpoint`` against ``runner.model`` and hand mmengine
        the unwrapped state dict.

        Raises:
            CheckpointMismatchError: ``strict`` and the checkpoint does not
                fit (or its recorded architecture differs and
                ``check_arch``).
        """
        check_model_checkpoint(runner.model, checkpoint, self.source,
                               self.strict, self.check_arch, self.hint)
        raw = checkpoint.get('state_dict', checkpoint)
        state = OrderedDict(read_state_dict(checkpoint))
        if hasattr(raw, '_metadata'):  # module versions, as mmengine keeps
            state._metadata = raw._metadata
        checkpoint['state_dict'] = state
