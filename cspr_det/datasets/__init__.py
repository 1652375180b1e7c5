from .transforms import *  # noqa: F401,F403
from .deeplesion_dataset import DeepLesionDataset  # noqa: E402
from .synthetic import make_synthetic_deeplesion  # noqa: E402

__all__ = ['DeepLesionDataset', 'make_synthetic_deeplesion']
from .image_folder_dataset import ImageFolderDataset  # noqa: E402

__all__ += ['ImageFolderDataset']
