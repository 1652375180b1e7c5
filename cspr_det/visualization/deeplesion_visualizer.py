"""The DeepLesion visualiser: a key slice in an HU window with the ground
truth and the predictions drawn in two colours."""
import os.path as osp
from typing import Optional, Sequence

import mmcv
import numpy as np
from mmdet.visualization import DetLocalVisualizer
from mmengine.fileio import get

from cspr_det.fileio.deeplesion_png import SliceReadError, decode_ct_png
from cspr_det.registry import VISUALIZERS
from .ct_drawing import (SOFT_TISSUE_WINDOW, add_caption, draw_boxes,
                         hu_to_rgb, upscale)


def _gt_boxes(data_sample) -> np.ndarray:
    """Ground-truth boxes of a sample: ``gt_instances`` when packed, else the
    ``instances`` meta that DeepLesion test samples carry."""
    gt = data_sample.get('gt_instances')
    if gt is not None and len(gt) > 0:
        return gt.bboxes.cpu().numpy().reshape(-1, 4)
    instances = data_sample.metainfo.get('instances') or []
    boxes = [
        inst['bbox'] for inst in instances if not inst.get('ignore_flag', 0)
    ]
    return np.asarray(boxes, np.float64).reshape(-1, 4)


@VISUALIZERS.register_module()
class DeepLesionVisualizer(DetLocalVisualizer):
    """Draws DeepLesion samples: the key slice in an HU window, the ground
    truth (green) and the predictions with their scores (red) on one image.

    mmdet's ``DetVisualizationHook`` decodes ``img_path`` as an 8-bit colour
    image, which loses the HU values of a 16-bit DeepLesion PNG; this
    visualiser therefore reads the key slice again from the data sample's
    ``img_path`` (HU = pixel - 32768) and ignores the image it is given
    (images that are not 16-bit PNGs are drawn as given). The hook names
    test images after the PNG (``NNN.png``), the same in every series; the
    series folder is put in front (``<series>_NNN.png``) so that no image
    overwrites another. Small slices are enlarged by an integer factor to
    at least ``min_size`` pixels so that boxes and scores stay legible.

    Args:
        name: Instance name.
        vis_backends: mmengine visualisation backends.
        save_dir: Folder of the backends.
        hu_window: ``(min, max)`` HU of the display window. Defaults to the
            soft-tissue window (-175, 275).
        gt_color, pred_color: RGB colours of ground truth and predictions.
        line_width: Box line width (pixels of the drawn image).
        min_size: Short side of the drawn image at least (pixels).
        backend_args: mmengine file backend arguments for ``img_path``.
        **kwargs: Other :class:`mmdet.visualization.DetLocalVisualizer`
            arguments.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 vis_backends: Optional[list] = None,
                 save_dir: Optional[str] = None,
                 hu_window: Sequence[float] = SOFT_TISSUE_WINDOW,
                 gt_color: Sequence[int] = (0, 255, 0),
                 pred_color: Sequence[int] = (255, 40, 40),
                 line_width: int = 2,
                 min_size: int = 512,
                 backend_args: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(
            name=name,
            vis_backends=vis_backends,
            save_dir=save_dir,
            line_width=line_width,
            **kwargs)
        hu_to_rgb(np.zeros((1, 1)), hu_window)  # validates the window
        self.hu_window = tuple(float(v) for v in hu_window)
        self.gt_color = tuple(int(v) for v in gt_color)
        self.pred_color = tuple(int(v) for v in pred_color)
        self.min_size = int(min_size)
        self.backend_args = backend_args

    def read_key_slice(self, data_sample) -> Optional[np.ndarray]:
        """The key slice of a sample in HU, or None when its ``img_path`` is
        not a 16-bit DeepLesion PNG."""
        path = data_sample.metainfo.get('img_path') \
            if data_sample is not None else None
        if not path or not str(path).lower().endswith('.png'):
            return None
        try:
            return decode_ct_png(
                get(path, backend_args=self.backend_args), path)
        except (SliceReadError, OSError):
            return None

    def draw_slice(self,
                   hu: np.ndarray,
                   gt_boxes: Optional[np.ndarray] = None,
                   pred_boxes: Optional[np.ndarray] = None,
                   pred_scores: Optional[np.ndarray] = None,
                   title: Optional[str] = None) -> np.ndarray:
        """Draw one slice.

        Args:
            hu: (H, W) HU slice (or an (H, W, 3) uint8 image, drawn as is).
            gt_boxes: (n, 4) ground-truth boxes in slice pixels.
            pred_boxes: (m, 4) predicted boxes in slice pixels.
            pred_scores: (m,) scores written next to the predictions.
            title: Caption line on top.

        Returns:
            np.ndarray: RGB uint8 image.
        """
        img = hu_to_rgb(hu, self.hu_window) if hu.ndim == 2 else \
            np.ascontiguousarray(hu[..., :3]).clip(0, 255).astype(np.uint8)
        img, factor = upscale(img, self.min_size)
        if gt_boxes is not None and len(gt_boxes):
            draw_boxes(
                img,
                gt_boxes,
                self.gt_color,
                factor=factor,
                thickness=self.line_width,
                below=True)
        if pred_boxes is not None and len(pred_boxes):
            labels = None if pred_scores is None else \
                [f'{float(s):.2f}' for s in pred_scores]
            draw_boxes(img, pred_boxes, self.pred_color, labels, factor,
                       self.line_width)
        if title:
            img = add_caption(img, [title])
        return img

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample=None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       pred_score_thr: float = 0.3,
                       step: int = 0) -> None:
        """Draw a sample and save it to ``out_file`` or the backends.

        Args:
            name: Image name for the backends.
            image: The image the hook decoded (used only when the key slice
                cannot be read as a DeepLesion PNG).
            data_sample: A ``DetDataSample`` with ``img_path``, predictions
                and ground truth (``gt_instances`` or ``instances`` meta).
            draw_gt, draw_pred: Draw ground truth / predictions.
            show: Show the image in a window instead of saving it.
            wait_time: Seconds to show it.
            out_file: Save the image here (the series folder is prefixed
                to the name, see the class docstring).
            pred_score_thr: Draw predictions scoring at least this.
            step: Global step for the backends.
        """
        hu = self.read_key_slice(data_sample)
        if hu is None:
            hu = np.asarray(image)
        gt = _gt_boxes(data_sample) if draw_gt and data_sample is not None \
            else None
        boxes = scores = None
        pred = data_sample.get('pred_instances') \
            if draw_pred and data_sample is not None else None
        if pred is not None:
            keep = pred.scores >= pred_score_thr
            boxes = pred.bboxes[keep].cpu().numpy()
            scores = pred.scores[keep].cpu().numpy()
        path = data_sample.metainfo.get('img_path') \
            if data_sample is not None else None
        title = None
        if path:
            title = f'{osp.basename(osp.dirname(path))}/{osp.basename(path)}'
        drawn = self.draw_slice(hu, gt, boxes, scores, title)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            if path and osp.dirname(path):
                series = osp.basename(osp.dirname(path))
                out_file = osp.join(
                    osp.dirname(out_file),
                    f'{series}_{osp.basename(out_file)}')
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)
