from .accuracy_metric import TopKAccuracy, topk_accuracy
from .binary_auc_metric import BinaryAUCMetric
from .coco_ap50 import coco_ap50
from .deeplesion_froc_eval import evaluate_froc_records
from .deeplesion_froc_metric import DeepLesionFROCMetric
from .deeplesion_strata import DEEPLESION_TYPE_NAMES
from .detection_dump import load_detection_dump, save_detection_dump
from .froc_report import format_table, write_report_files
from .volume_dice_metric import VolumeDiceMetric

__all__ = [
    'BinaryAUCMetric', 'DEEPLESION_TYPE_NAMES', 'DeepLesionFROCMetric',
    'TopKAccuracy', 'VolumeDiceMetric', 'coco_ap50', 'evaluate_froc_records',
    'format_table', 'load_detection_dump', 'save_detection_dump',
    'topk_accuracy', 'write_report_files'
]
