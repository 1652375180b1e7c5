from .deeplesion_froc_metric import DeepLesionFROCMetric

__all__ = ['DeepLesionFROCMetric']
from .accuracy_metric import TopKAccuracy, topk_accuracy  # noqa: E402

__all__ += ['TopKAccuracy', 'topk_accuracy']
