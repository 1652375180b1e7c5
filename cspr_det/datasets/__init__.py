from .base_volume_seg_dataset import BaseVolumeSegDataset
from .btcv_dataset import BTCVDataset
from .deeplesion_dataset import DeepLesionDataset
from .image_folder_dataset import ImageFolderDataset
from .lidc_nodule_dataset import LIDCNoduleDataset
from .lits_dataset import LiTSDataset
from .synthetic import make_synthetic_deeplesion
from .transforms import *  # noqa: F401,F403

__all__ = [
    'DeepLesionDataset', 'make_synthetic_deeplesion', 'ImageFolderDataset',
    'BaseVolumeSegDataset', 'BTCVDataset', 'LiTSDataset', 'LIDCNoduleDataset'
]
