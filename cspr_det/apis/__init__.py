"""Running trained models on whole CT scans: ``init_model`` for every task
family, lesion detection (slice-stack inference, 3D candidates), volume
segmentation and nodule classification, and their outputs; the CT reading
functions of :mod:`cspr_det.fileio` are part of this API too."""
from cspr_det.fileio import (CTVolume, find_series_spacing, list_dicom_series,
                             read_ct_volume, read_dicom_series,
                             read_png_series)
from .inference import CTResult, inference_ct, init_detector, select_rows
from .init_model import init_model, model_task
from .lesion_linking import build_candidates, iou_matrix, link_detections
from .nodule_inference import NoduleResult, inference_nodule
from .slice_inference import SliceStacker, config_test_pipeline, predict_rows
from .volume_inference import VolumeSegResult, inference_volume

__all__ = [
    'CTVolume', 'read_ct_volume', 'read_dicom_series', 'list_dicom_series',
    'read_png_series', 'find_series_spacing', 'init_detector', 'inference_ct',
    'CTResult', 'select_rows', 'link_detections', 'build_candidates',
    'iou_matrix', 'SliceStacker', 'predict_rows', 'config_test_pipeline',
    'init_model', 'model_task', 'inference_volume', 'VolumeSegResult',
    'inference_nodule', 'NoduleResult'
]
