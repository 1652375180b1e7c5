from .checkpoint_check_hook import CheckpointCheckHook
from .data_check_hook import DataCheckHook
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook

__all__ = [
    'CheckpointCheckHook', 'DataCheckHook', 'NonFiniteLossHook',
    'NonFiniteLossError'
]
from .seg_prediction_writer_hook import SegPredictionWriterHook  # noqa: E402

__all__ += ['SegPredictionWriterHook']
