from .checkpoint_check_hook import CheckpointCheckHook
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook

__all__ = ['CheckpointCheckHook', 'NonFiniteLossHook', 'NonFiniteLossError']
from .seg_prediction_writer_hook import SegPredictionWriterHook  # noqa: E402

__all__ += ['SegPredictionWriterHook']
