"""Data sample of one 3D segmentation case."""
import torch
from mmengine.structures import BaseDataElement


class VolumeSegDataSample(BaseDataElement):
    """Annotations and predictions of one volume for 3D segmentation.

    Data fields (all on the converted array grid, canonical orientation):

    - ``gt_seg`` (torch.LongTensor, (D, H, W)): ground-truth labels,
      255 marks ignored voxels (padding).
    - ``pred_seg`` (torch.LongTensor, (D, H, W)): predicted labels.
    - ``seg_logits`` (torch.FloatTensor, (C, D, H, W)): per-class logits
      (averaged over sliding windows in slide mode).

    Meta fields shared by data and model code:

    - ``case_id`` (str): case name.
    - ``spacing`` (tuple[float, float, float]): (z, y, x) voxel size in mm
      of the array grid (used for HD95 in mm).
    - ``img_shape`` (tuple[int, int, int]): (D, H, W) after the transforms,
      before the data preprocessor pads to a multiple of its divisor.
    - ``ori_shape`` (tuple[int, int, int]): (D, H, W) of the converted case.
    - ``source`` (dict): source NIfTI geometry from the converter's index,
      used to write predictions back in the source geometry.

    Examples:
        >>> sample = VolumeSegDataSample(metainfo=dict(case_id='volume-0'))
        >>> sample.gt_seg = torch.zeros(4, 8, 8, dtype=torch.long)
        >>> sample.gt_seg.shape
        torch.Size([4, 8, 8])
    """

    @property
    def gt_seg(self) -> torch.Tensor:
        """torch.LongTensor: ground truth of shape (D, H, W)."""
        return self._gt_seg

    @gt_seg.setter
    def gt_seg(self, value: torch.Tensor) -> None:
        self._check_ndim('gt_seg', value, 3)
        self.set_field(value, '_gt_seg', dtype=torch.Tensor)

    @gt_seg.deleter
    def gt_seg(self) -> None:
        del self._gt_seg

    @property
    def pred_seg(self) -> torch.Tensor:
        """torch.LongTensor: predicted labels of shape (D, H, W)."""
        return self._pred_seg

    @pred_seg.setter
    def pred_seg(self, value: torch.Tensor) -> None:
        self._check_ndim('pred_seg', value, 3)
        self.set_field(value, '_pred_seg', dtype=torch.Tensor)

    @pred_seg.deleter
    def pred_seg(self) -> None:
        del self._pred_seg

    @property
    def seg_logits(self) -> torch.Tensor:
        """torch.FloatTensor: class logits of shape (C, D, H, W)."""
        return self._seg_logits

    @seg_logits.setter
    def seg_logits(self, value: torch.Tensor) -> None:
        self._check_ndim('seg_logits', value, 4)
        self.set_field(value, '_seg_logits', dtype=torch.Tensor)

    @seg_logits.deleter
    def seg_logits(self) -> None:
        del self._seg_logits

    def _check_ndim(self, name: str, value: torch.Tensor, ndim: int) -> None:
        """Raise a one-line error when ``value`` is not an ``ndim`` tensor.

        ``BaseDataElement.__setattr__`` registers the public name before the
        property setter runs; a rejected value must not leave it registered.
        """
        if isinstance(value, torch.Tensor) and value.dim() == ndim:
            return
        if not hasattr(self, '_' + name):
            self._data_fields.discard(name)
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f'VolumeSegDataSample.{name} must be a torch.Tensor, '
                f'got {type(value).__name__}')
        raise ValueError(
            f'VolumeSegDataSample.{name} must have {ndim} dimensions, '
            f'got shape {tuple(value.shape)}')
