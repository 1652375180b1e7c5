"""Voxel-wise segmentation losses."""
from .soft_dice_loss import SoftDiceLoss
from .voxel_cross_entropy_loss import VoxelCrossEntropyLoss

__all__ = ['SoftDiceLoss', 'VoxelCrossEntropyLoss']
