"""BTCV (Beyond the Cranial Vault) multi-organ 3D dataset."""
from cspr_det.registry import DATASETS
from .base_volume_seg_dataset import BaseVolumeSegDataset

#: Label values 0-13 of the BTCV abdomen challenge.
BTCV_CLASSES = ('background', 'spleen', 'right_kidney', 'left_kidney',
                'gallbladder', 'esophagus', 'liver', 'stomach', 'aorta',
                'inferior_vena_cava', 'portal_and_splenic_vein', 'pancreas',
                'right_adrenal_gland', 'left_adrenal_gland')
#: Sided label pairs (right, left), exchanged by a left-right flip.
BTCV_SIDED_PAIRS = ((2, 3), (12, 13))


@DATASETS.register_module()
class BTCVDataset(BaseVolumeSegDataset):
    """BTCV abdomen converted by ``tools/dataset_converters/btcv.py``.

    14 classes (background + 13 organs, the source label values). The
    published split: 24 training cases, 6 test cases (35-40).
    """

    DATASET_NAME = 'btcv'
    METAINFO = dict(
        classes=BTCV_CLASSES,
        palette=[(0, 0, 0), (255, 127, 14), (44, 160, 44), (214, 39, 40),
                 (148, 103, 189), (140, 86, 75), (227, 119, 194),
                 (127, 127, 127), (188, 189, 34), (23, 190, 207),
                 (31, 119, 180), (255, 187, 120), (152, 223, 138),
                 (255, 152, 150)],
        dataset='btcv')


__all__ = ['BTCV_CLASSES', 'BTCV_SIDED_PAIRS', 'BTCVDataset']
