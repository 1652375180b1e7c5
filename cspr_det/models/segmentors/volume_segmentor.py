"""Encoder-decoder segmentor for 3D volumes."""
import copy
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from cspr_det.registry import MODELS
from cspr_det.structures import VolumeSegDataSample
from ..utils.sliding_window import (OUTPUTS, WEIGHTINGS,
                                    sliding_window_inference)
from .largest_component import LCC_MODES, keep_largest_component
from .volume_seg_data_preprocessor import VDT_MEAN, VDT_STD

TEST_MODES = ('slide', 'whole')
DEFAULT_TEST_CFG = dict(
    mode='slide',
    window=(32, 256, 256),
    stride=(12, 128, 128),
    sw_batch_size=1,
    weighting='uniform',
    sigma_scale=0.125,
    sw_device=None,
    accum_device=None,
    return_logits=False,
    largest_component=None)


def _check_test_cfg(test_cfg: Optional[dict]) -> dict:
    """Merge ``test_cfg`` into the defaults and validate it (one-line
    errors naming the key)."""
    cfg = copy.deepcopy(DEFAULT_TEST_CFG)
    unknown = set(test_cfg or {}) - set(cfg)
    if unknown:
        raise ValueError(f'VolumeSegmentor: unknown test_cfg key(s) '
                         f'{sorted(unknown)}; valid: {sorted(cfg)}')
    cfg.update(test_cfg or {})
    if cfg['mode'] not in TEST_MODES:
        raise ValueError(f'VolumeSegmentor: test_cfg.mode must be one of '
                         f'{TEST_MODES}, got {cfg["mode"]!r}')
    for key in ('window', 'stride'):
        val = cfg[key]
        if (not isinstance(val, (list, tuple)) or len(val) != 3
                or any(not isinstance(v, int) or v < 1 for v in val)):
            raise ValueError(f'VolumeSegmentor: test_cfg.{key} needs 3 '
                             f'positive ints (D, H, W), got {val!r}')
        cfg[key] = tuple(val)
    if any(s > w for s, w in zip(cfg['stride'], cfg['window'])):
        raise ValueError(
            f'VolumeSegmentor: test_cfg.stride {cfg["stride"]} exceeds the '
            f'window {cfg["window"]}')
    if cfg['weighting'] not in WEIGHTINGS:
        raise ValueError(f'VolumeSegmentor: test_cfg.weighting must be one '
                         f'of {WEIGHTINGS}, got {cfg["weighting"]!r}')
    lcc = cfg['largest_component']
    if lcc is not None:
        lcc = dict(mode=lcc) if isinstance(lcc, str) else dict(lcc)
        if lcc.get('mode', 'foreground') not in LCC_MODES or set(lcc) - {
                'mode', 'classes', 'fully_connected'
        }:
            raise ValueError(
                'VolumeSegmentor: test_cfg.largest_component must be None, '
                f'one of {LCC_MODES} or dict(mode=..., classes=..., '
                f'fully_connected=...), got {cfg["largest_component"]!r}')
        cfg['largest_component'] = lcc
    return cfg


@MODELS.register_module()
class VolumeSegmentor(BaseModel):
    """Backbone + neck + decode head for 3D segmentation.

    Input contract: the data preprocessor
    (:class:`VolumeSegDataPreprocessor`) turns the packed ``(C_in, D, H,
    W)`` volumes into ``(N, C_in, D', H', W')`` normalised batches padded to
    a multiple of 16 and pads ``gt_seg`` with 255.

    Modes of :meth:`forward`:

    - ``'loss'``: dict of the head's losses (plus ``acc_seg``);
    - ``'predict'``: the data samples with ``pred_seg`` ``(D, H, W)`` int64
      (and ``seg_logits`` ``(C, D, H, W)`` with ``test_cfg.return_logits``)
      on each sample's unpadded ``img_shape`` (resized to ``ori_shape`` when
      that differs); ``gt_seg`` is cropped back to ``img_shape`` too;
    - ``'tensor'``: ``(N, C, D', H', W')`` logits of the whole padded batch.

    ``test_cfg`` (defaults in ``DEFAULT_TEST_CFG``):

    - ``mode``: ``'slide'`` (sliding windows) or ``'whole'``;
    - ``window`` ``(32, 256, 256)``, ``stride`` ``(12, 128, 128)``,
      ``sw_batch_size``, ``weighting`` (``'uniform'``/``'gaussian'``),
      ``sigma_scale``, ``sw_device``, ``accum_device``: see
      :func:`~cspr_det.models.utils.sliding_window_inference`. Windows run
      over each sample's own padded extent; an axis shorter than the window
      shrinks it;
    - ``return_logits``: keep ``seg_logits`` (a ``(C, D, H, W)`` float
      volume per case); off by default, the sliding window then keeps only
      a slab of logits (bounded memory) and emits labels;
    - ``largest_component``: None, ``'foreground'``, ``'per_class'`` or
      ``dict(mode=..., classes=..., fully_connected=...)``, see
      :func:`keep_largest_component`.

    Args:
        backbone: Encoder config (e.g. ``cspr_det.ResNet3D`` with
            ``stem_skip=True``; ``MP3DResNet``/``P3DResNet`` with
            ``collapse='none'``).
        decode_head: Head config (``cspr_det.FCNHead3D``).
        neck: Decoder config (``cspr_det.UNet3DNeck``).
        data_preprocessor: Default ``VolumeSegDataPreprocessor`` with the
            VDT statistics and ``pad_size_divisor=16``.
        train_cfg: Unused, kept for config symmetry.
        test_cfg: See above.
        init_cfg: Init config of the whole model; pre-trained encoder
            weights go into ``backbone.init_cfg`` (``cspr_det.
            PretrainedBackbone``), the decoder and head stay random.
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 neck: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(
                type='cspr_det.VolumeSegDataPreprocessor',
                mean=VDT_MEAN,
                std=VDT_STD,
                pad_size_divisor=16)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.decode_head = MODELS.build(decode_head)
        self.num_classes = self.decode_head.num_classes
        # heads without the attribute resize with align_corners=False
        self.align_corners = getattr(self.decode_head, 'align_corners', False)
        self.train_cfg = train_cfg or {}
        self.test_cfg = _check_test_cfg(test_cfg)

    # -- network ---------------------------------------------------------
    def extract_feat(self, inputs: torch.Tensor):
        """Encoder (and decoder) maps of ``(N, C_in, D, H, W)`` inputs."""
        x = self.backbone(inputs)
        return self.neck(x) if self.neck is not None else x

    def encode_decode(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits at the input size.

        Args:
            inputs: ``(N, C_in, D, H, W)`` normalised volumes.

        Returns:
            torch.Tensor: ``(N, C, D, H, W)`` logits (the head output resized
            trilinearly when the decoder ends below full resolution).
        """
        if inputs.dim() != 5:
            raise ValueError('VolumeSegmentor: inputs must be (N, C, D, H, '
                             f'W), got {tuple(inputs.shape)}')
        logits = self.decode_head(self.extract_feat(inputs))
        if logits.shape[2:] != inputs.shape[2:]:
            logits = F.interpolate(
                logits,
                size=inputs.shape[2:],
                mode='trilinear',
                align_corners=self.align_corners)
        return logits

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[VolumeSegDataSample]] = None,
                mode: str = 'tensor'):
        """Run in ``'loss'``, ``'predict'`` or ``'tensor'`` mode (see the
        class docstring).

        Args:
            inputs: ``(N, C_in, D, H, W)`` batch from the data preprocessor.
            data_samples: N :class:`VolumeSegDataSample` (``gt_seg`` for
                ``'loss'``; metainfo ``img_shape``/``ori_shape`` for
                ``'predict'``).
            mode: ``'loss'``, ``'predict'`` or ``'tensor'``.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.encode_decode(inputs)
        raise RuntimeError(f'VolumeSegmentor: invalid mode {mode!r}; '
                           "expected 'loss', 'predict' or 'tensor'")

    def loss(
            self, inputs: torch.Tensor, data_samples: List[VolumeSegDataSample]
    ) -> Dict[str, torch.Tensor]:
        """Losses of the decode head against the padded ``gt_seg``."""
        if data_samples is None:
            raise ValueError("VolumeSegmentor: mode='loss' needs "
                             'data_samples with gt_seg')
        return self.decode_head.loss(self.extract_feat(inputs), data_samples)

    # -- inference -------------------------------------------------------
    def predict(
        self,
        inputs: torch.Tensor,
        data_samples: Optional[List[VolumeSegDataSample]] = None
    ) -> List[VolumeSegDataSample]:
        """Predict labels (and optionally logits) for every sample.

        Returns:
            list[VolumeSegDataSample]: ``pred_seg`` ``(D, H, W)`` int64 on
            ``img_shape`` (``ori_shape`` when it differs), ``seg_logits``
            ``(C, D, H, W)`` with ``test_cfg.return_logits``.
        """
        if data_samples is None:
            data_samples = [
                VolumeSegDataSample(
                    metainfo=dict(img_shape=tuple(inputs.shape[2:])))
                for _ in range(inputs.size(0))
            ]
        cfg = self.test_cfg
        div = getattr(self.data_preprocessor, 'pad_size_divisor', 1)
        for i, sample in enumerate(data_samples):
            img_shape = tuple(
                sample.metainfo.get('img_shape', inputs.shape[2:]))
            ori_shape = tuple(sample.metainfo.get('ori_shape', img_shape))
            # this sample's own padded extent inside the batch
            extent = [
                min(-(-s // div) * div, n)
                for s, n in zip(img_shape, inputs.shape[2:])
            ]
            x = inputs[i:i + 1, :, :extent[0], :extent[1], :extent[2]]
            need_logits = cfg['return_logits'] or ori_shape != img_shape
            out = self._infer(x, 'logits' if need_logits else 'labels')[0]
            crop = (slice(0, img_shape[0]), slice(0, img_shape[1]),
                    slice(0, img_shape[2]))
            if need_logits:
                logits = out[(slice(None), ) + crop]
                if ori_shape != img_shape:
                    logits = F.interpolate(
                        logits[None].float(),
                        size=ori_shape,
                        mode='trilinear',
                        align_corners=self.align_corners)[0]
                labels = logits.argmax(0)
            else:
                logits, labels = None, out[crop]
            if cfg['largest_component'] is not None:
                labels = keep_largest_component(labels,
                                                **cfg['largest_component'])
            sample.pred_seg = labels.long()
            if cfg['return_logits']:
                sample.seg_logits = logits
            if 'gt_seg' in sample and tuple(
                    sample.gt_seg.shape) != img_shape and all(
                        g >= s
                        for g, s in zip(sample.gt_seg.shape, img_shape)):
                sample.gt_seg = sample.gt_seg[crop]
        return data_samples

    def _infer(self, x: torch.Tensor, output: str) -> torch.Tensor:
        """Logits ``(1, C, D, H, W)`` or labels ``(1, D, H, W)`` of one
        padded sample, whole or by sliding windows."""
        assert output in OUTPUTS
        cfg = self.test_cfg
        if cfg['mode'] == 'whole':
            logits = self.encode_decode(x)
            if cfg['accum_device'] is not None:
                logits = logits.to(cfg['accum_device'])
            return logits if output == 'logits' else logits.argmax(1)
        return sliding_window_inference(
            x,
            self.encode_decode,
            window=cfg['window'],
            stride=cfg['stride'],
            sw_batch_size=cfg['sw_batch_size'],
            weighting=cfg['weighting'],
            sigma_scale=cfg['sigma_scale'],
            output=output,
            sw_device=cfg['sw_device'],
            accum_device=cfg['accum_device'])
