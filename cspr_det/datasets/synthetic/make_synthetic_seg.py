"""Synthetic LiTS and BTCV: CT volumes and label maps as NIfTI in the real
public layouts, so the whole 3D segmentation pipeline runs and can be tested
anywhere.

Every case is an abdominal scan through the analytic body phantom of the
synthetic DeepLesion (:class:`~.phantom.Phantom`, tissues in HU), rendered
slice by slice at an anisotropic spacing (thin in-plane pixels, thicker
slices), blurred a little, with noise and the -1024 HU outside the scanner's
circular field of view. On top of the phantom:

- LiTS: a liver with a patient-specific left lobe (label 1) and 0-4
  soft-edged tumours inside it (label 2; mostly hypodense, some hyperdense);
- BTCV: the 13 organs of the challenge (spleen, kidneys, gallbladder,
  oesophagus, liver, stomach, aorta, IVC, portal/splenic vein, pancreas,
  adrenals), of different contrast and shape.

The volume is stored in one of several orientations (``LPS``, ``RAS``,
``RAI``, ``LPI``, an in-plane transposed ``PLS``), some with oblique
direction cosines (a gantry-tilt-like rotation about the left-right axis);
image and label always share one geometry. Layouts:

- LiTS: ``<out>/Training Batch {1,2}/volume-N.nii`` (int16 HU) and
  ``segmentation-N.nii`` (uint8), as in the LiTS release;
- BTCV: ``<out>/RawData/Training/img/imgNNNN.nii.gz`` (int16) and
  ``label/labelNNNN.nii.gz`` (uint8), numbered like the 30 labelled cases
  (1-10, 21-40).

Both also get ``<out>/split.json`` (``{"train": [...], "val": [...],
"test": [...]}``, usable by the converters' ``--split-file``) and
``<out>/synthetic_truth.json`` (per-case geometry and tumours).
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from cspr_det.fileio import image_from_array, reorient, write_image
from ..splits import BTCV_TEST_IDS, btcv_case_id
from .abdomen_organs import AbdomenOrgans
from .phantom import Phantom, blob_profile, pixel_grid

#: BTCV case numbers of the labelled training set.
BTCV_NUMBERS = tuple(range(1, 11)) + tuple(range(21, 41))

#: Generator presets; keyword arguments override them.
PRESETS: Dict[str, dict] = dict(
    # trains a small U-Net on 2 CPU cores in minutes
    demo=dict(
        num_cases=30,
        image_size=96,
        fov_mm=(330.0, 400.0),
        slice_spacing=((2.5, 0.6), (5.0, 0.4)),
        split_fractions=(0.6, 0.13, 0.27)),
    # tests: a few small volumes
    tiny=dict(
        num_cases=4,
        image_size=32,
        fov_mm=(340.0, 380.0),
        slice_spacing=((8.0, 1.0), ),
        split_fractions=(0.5, 0.25, 0.25)),
    # real-size volumes (512 x 512, 0.65-0.8 mm pixels, 0.8-5 mm slices)
    real=dict(
        num_cases=8,
        image_size=512,
        fov_mm=(330.0, 410.0),
        slice_spacing=((0.8, 0.2), (2.5, 0.5), (5.0, 0.3)),
        split_fractions=(0.6, 0.2, 0.2)),
)

# (orientation code, probability) of the stored volumes
_ORIENTATIONS = (('LPS', 0.3), ('RAS', 0.25), ('RAI', 0.15), ('LPI', 0.15),
                 ('PLS', 0.15))
# phantom z (mm) of the liver (see Phantom.render)
_LIVER_Z = (255.0, 420.0)


def _sample_spacing(rng: np.random.Generator,
                    options: Sequence[Tuple[float, float]]) -> float:
    values = np.array([v for v, _ in options], float)
    p = np.array([w for _, w in options], float)
    return float(rng.choice(values, p=p / p.sum()))


def render_case(
    rng: np.random.Generator,
    btcv: bool = False,
    image_size: int = 96,
    fov_mm: Tuple[float, float] = (330.0, 400.0),
    slice_spacing: Sequence[Tuple[float, float]] = ((2.5, 1.0), ),
    tumours: Tuple[int, int] = (0, 4),
    noise_hu: Tuple[float, float] = (8.0, 16.0)
) -> dict:
    """Render one abdominal case in the canonical orientation.

    Args:
        rng: Random generator of the case.
        btcv: BTCV organ labels (else LiTS liver/tumour labels).
        image_size: Rows = columns.
        fov_mm: Range of the field of view (mm across the image).
        slice_spacing: ((mm, probability), ...) of the slice spacing.
        tumours: (min, max) liver tumours (LiTS only).
        noise_hu: Range of the noise standard deviation.

    Returns:
        dict: ``hu`` (D, H, W) int16, ``labels`` (D, H, W) uint8, both with
        D superior, H posterior, W patient left; ``spacing`` (z, y, x) mm;
        ``tumours`` (list of dicts, mm in array coordinates).
    """
    phantom = Phantom(rng)
    organs = AbdomenOrgans(rng)
    fov = float(rng.uniform(*fov_mm))
    sxy = fov / image_size
    sz = _sample_spacing(rng, slice_spacing)
    # the scan covers the liver with 15-80 mm margins; body z stretched
    stretch = float(rng.uniform(0.9, 1.1))
    lo = _LIVER_Z[0] - float(rng.uniform(15, 80))
    hi = _LIVER_Z[1] + float(rng.uniform(15, 60))
    n = int((hi - lo) * stretch // sz) + 1
    x, y = pixel_grid(image_size, sxy)
    hu = np.empty((n, image_size, image_size), np.float32)
    labels = np.empty((n, image_size, image_size), np.uint8)
    for k in range(n):
        z = lo + k * sz / stretch
        h, tissue, geo = phantom.render(x, y, z)
        labels[k] = organs.paint(x, y, z, tissue, h, geo, btcv)
        hu[k] = h
    found = []
    if not btcv:
        found = _add_tumours(rng, hu, labels, (sz, sxy, sxy), tumours)
    hu = ndimage.gaussian_filter(hu, (0.0, 0.6, 0.6))
    hu += rng.normal(0, float(rng.uniform(*noise_hu)),
                     hu.shape).astype(np.float32)
    outside = np.hypot(x, y) > fov / 2 * 0.98
    hu[:, outside] = -1024.0
    hu = np.clip(np.round(hu), -1024, 3071).astype(np.int16)
    return dict(hu=hu, labels=labels, spacing=(sz, sxy, sxy), tumours=found)


def _add_tumours(rng: np.random.Generator, hu: np.ndarray, labels: np.ndarray,
                 spacing: Tuple[float, float,
                                float], count: Tuple[int, int]) -> List[dict]:
    """Soft-edged ellipsoid tumours centred in the liver: HU changed by the
    tumour contrast inside the liver, label 2 where the profile exceeds
    0.5."""
    liver = np.argwhere(labels == 1)
    if not len(liver):
        return []
    sp = np.asarray(spacing, float)
    out = []
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        c = liver[int(rng.integers(len(liver)))] * sp
        r = float(np.exp(rng.uniform(np.log(6), np.log(25))))
        axes = r * rng.uniform(0.75, 1.25, size=3)
        delta = float(
            rng.uniform(-70, -30) if rng.random() <
            0.85 else rng.uniform(30, 55))
        # bounding box of the ellipsoid plus its soft edge
        lo = np.maximum(np.floor((c - 1.5 * axes - 3) / sp), 0).astype(int)
        hi = np.minimum(np.ceil((c + 1.5 * axes + 3) / sp) + 1,
                        labels.shape).astype(int)
        grids = np.meshgrid(
            *[np.arange(a, b) * s for a, b, s in zip(lo, hi, sp)],
            indexing='ij')
        d = np.sqrt(
            sum(((g - cc) / ax)**2 for g, cc, ax in zip(grids, c, axes)))
        profile = blob_profile(d, r, edge_mm=1.5)
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        inside = labels[box] >= 1
        hu[box] += (delta * profile * inside).astype(np.float32)
        labels[box][(profile > 0.5) & inside] = 2
        out.append(
            dict(
                centre_mm=[float(v) for v in c],
                axes_mm=[float(v) for v in axes],
                delta_hu=delta))
    return out


def _store(case: dict, rng: np.random.Generator,
           oblique_prob: float) -> Tuple[sitk.Image, sitk.Image, dict]:
    """Put a canonical case on an LPS grid, then store it in a random
    orientation (and sometimes tilted)."""
    sz, sy, sx = case['spacing']
    d, h, w = case['hu'].shape
    origin = (-(w - 1) / 2 * sx, -(h - 1) / 2 * sy + 20.0,
              float(rng.uniform(-400, -100)))
    ident = (1, 0, 0, 0, 1, 0, 0, 0, 1)
    img = image_from_array(case['hu'], (sx, sy, sz), origin, ident)
    lab = image_from_array(case['labels'], (sx, sy, sz), origin, ident)
    codes = [c for c, _ in _ORIENTATIONS]
    p = np.array([w for _, w in _ORIENTATIONS])
    code = codes[int(rng.choice(len(codes), p=p / p.sum()))]
    img, lab = reorient(img, code), reorient(lab, code)
    tilt = 0.0
    if rng.random() < oblique_prob:
        tilt = float(rng.uniform(4, 15) * (1 if rng.random() < 0.5 else -1))
        a = np.deg2rad(tilt)
        rot = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)],
                        [0, np.sin(a), np.cos(a)]])
        direction = rot @ np.asarray(img.GetDirection()).reshape(3, 3)
        for im in (img, lab):
            im.SetDirection([float(v) for v in direction.ravel()])
    info = dict(
        orientation=code,
        tilt_deg=tilt,
        spacing_zyx=[float(v) for v in case['spacing']],
        shape=[int(v) for v in case['hu'].shape],
        tumours=case['tumours'])
    return img, lab, info


def _split_ids(ids: List[str], fractions: Sequence[float],
               rng: np.random.Generator) -> Dict[str, List[str]]:
    fr = np.asarray(fractions, float)
    fr = fr / fr.sum()
    counts = np.floor(fr * len(ids)).astype(int)
    for i in np.argsort(-(fr * len(ids) - counts))[:len(ids) - counts.sum()]:
        counts[i] += 1
    order = [ids[i] for i in rng.permutation(len(ids))]
    names = ('train', 'val', 'test')
    split, start = {}, 0
    for name, c in zip(names, counts):
        split[name] = sorted(order[start:start + c], key=ids.index)
        start += c
    return split


def _make(dataset: str, out_dir: str, num_cases: Optional[int], seed: int,
          preset: str, overrides: dict) -> dict:
    if preset not in PRESETS:
        raise ValueError(
            f'unknown preset {preset!r}; choose from {sorted(PRESETS)}')
    cfg = dict(tumours=(0, 4), noise_hu=(8.0, 16.0), oblique_prob=0.2)
    cfg.update(PRESETS[preset])
    unknown = set(overrides) - set(cfg)
    if unknown:
        raise TypeError(f'unknown arguments {sorted(unknown)}')
    cfg.update(overrides)
    if num_cases is not None:
        cfg['num_cases'] = num_cases
    n, size = int(cfg['num_cases']), int(cfg['image_size'])
    btcv = dataset == 'btcv'
    if n < 1 or size < 32:
        raise ValueError('num_cases must be >= 1 and image_size >= 32, '
                         f'got {n} and {size}')
    if btcv and n > len(BTCV_NUMBERS):
        raise ValueError(f'BTCV has {len(BTCV_NUMBERS)} labelled cases, '
                         f'got num_cases={n}')
    rng = np.random.default_rng(seed)
    if btcv:
        numbers = list(BTCV_NUMBERS[:n])
        ids = [btcv_case_id(i) for i in numbers]
    else:
        numbers = list(range(n))
        ids = [f'volume-{i}' for i in numbers]
    if btcv and n == len(BTCV_NUMBERS):  # the published split
        split = dict(
            train=[btcv_case_id(i) for i in numbers if i not in BTCV_TEST_IDS],
            test=[btcv_case_id(i) for i in BTCV_TEST_IDS])
    else:
        split = _split_ids(ids, cfg['split_fractions'], rng)
    truth = {}
    os.makedirs(out_dir, exist_ok=True)
    for num, case_id in zip(numbers, ids):
        crng = np.random.default_rng([seed, num, 1 if btcv else 0])
        case = render_case(
            crng,
            btcv=btcv,
            image_size=size,
            fov_mm=cfg['fov_mm'],
            slice_spacing=cfg['slice_spacing'],
            tumours=cfg['tumours'],
            noise_hu=cfg['noise_hu'])
        img, lab, info = _store(case, crng, cfg['oblique_prob'])
        if btcv:
            root = osp.join(out_dir, 'RawData', 'Training')
            img_path = osp.join(root, 'img', f'img{num:04d}.nii.gz')
            lab_path = osp.join(root, 'label', f'label{num:04d}.nii.gz')
        else:
            root = osp.join(out_dir, f'Training Batch {1 if num < 28 else 2}')
            img_path = osp.join(root, f'volume-{num}.nii')
            lab_path = osp.join(root, f'segmentation-{num}.nii')
        write_image(img, img_path)
        write_image(sitk.Cast(lab, sitk.sitkUInt8), lab_path)
        info.update(
            image=osp.relpath(img_path, out_dir),
            label=osp.relpath(lab_path, out_dir),
            label_values=[int(v) for v in np.unique(case['labels'])])
        truth[case_id] = info
    with open(osp.join(out_dir, 'split.json'), 'w', encoding='utf-8') as f:
        json.dump(split, f, indent=1)
    with open(
            osp.join(out_dir, 'synthetic_truth.json'), 'w',
            encoding='utf-8') as f:
        json.dump(
            dict(
                dataset=dataset,
                seed=seed,
                preset=preset,
                config=cfg,
                cases=truth),
            f,
            indent=1,
            default=float)
    return dict(
        out_dir=out_dir,
        dataset=dataset,
        cases=n,
        image_size=size,
        splits={
            k: len(v)
            for k, v in split.items()
        },
        orientations=sorted({v['orientation']
                             for v in truth.values()}),
        oblique=sum(1 for v in truth.values() if v['tilt_deg']),
        tumours=sum(len(v['tumours']) for v in truth.values()))


def make_synthetic_lits(out_dir: str,
                        num_cases: Optional[int] = None,
                        seed: int = 0,
                        preset: str = 'demo',
                        **overrides) -> dict:
    """Write a synthetic LiTS (``volume-N.nii`` / ``segmentation-N.nii``).

    Args:
        out_dir: Output folder (created; files of the same cases replaced).
        num_cases: Number of cases (preset default).
        seed: Random seed; the output is a function of all arguments.
        preset: One of :data:`PRESETS` (``'demo'``, ``'tiny'``, ``'real'``).
        **overrides: Any preset key: ``image_size``, ``fov_mm`` (min, max),
            ``slice_spacing`` ((mm, probability), ...), ``split_fractions``
            (train, val, test), ``tumours`` (min, max per case),
            ``noise_hu`` (min, max), ``oblique_prob`` (0.2).

    Returns:
        dict: Summary (``cases``, ``splits``, ``orientations``, ``oblique``
        (tilted cases), ``tumours``).
    """
    return _make('lits', out_dir, num_cases, seed, preset, overrides)


def make_synthetic_btcv(out_dir: str,
                        num_cases: Optional[int] = None,
                        seed: int = 0,
                        preset: str = 'demo',
                        **overrides) -> dict:
    """Write a synthetic BTCV (``RawData/Training/{img,label}``), 13 organs.

    With 30 cases the case numbers and split are the published ones (35-40
    test); fewer cases take the first numbers and ``split_fractions``.
    Arguments as :func:`make_synthetic_lits` (``tumours`` is ignored).
    """
    return _make('btcv', out_dir, num_cases, seed, preset, overrides)
