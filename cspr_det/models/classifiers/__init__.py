from .volume_classifier import VolumeClassifier

__all__ = ['VolumeClassifier']
