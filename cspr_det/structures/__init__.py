"""Data structures shared by datasets and models."""
from .volume_seg_data_sample import VolumeSegDataSample

__all__ = ['VolumeSegDataSample']
