"""3D predictions of one DeepLesion 3D sub-volume in the released format.

A sub-volume ``{series}_{first}-{last}.nii.gz`` holds the PNG slices
``first..last`` of a series; a higher slice number lies further toward the
feet (both NIH conversion scripts). Whatever order the reader stores the
rows in, the whole-series slice number of a row follows from its world
position: ``first`` is the most superior slice, and every slice interval
toward the feet adds one. In-plane, the canonical (LPS) slice is the PNG
image (columns run to the patient's left, rows to posterior), so box x/y
are PNG pixels.
"""
from typing import TYPE_CHECKING, Optional, Tuple

import numpy as np

from .inference import CTResult, inference_ct
from .lesion_linking import check_link_options, link_detections, select_tracks

if TYPE_CHECKING:  # pragma: no cover
    from . import CTVolume

__all__ = [
    'row_slice_numbers', 'candidate_boxes_3d', 'predict_subvolume',
    'link_subvolume'
]


def row_slice_numbers(volume: 'CTVolume', first: int, last: int) -> np.ndarray:
    """Whole-series slice number of every row of a sub-volume.

    Args:
        volume: The sub-volume as read by :func:`read_ct_volume`.
        first, last: Slice numbers of its name.

    Returns:
        np.ndarray: ``(D,)`` int64.

    Raises:
        ValueError: The file does not hold ``last - first + 1`` slices on a
            regular axial grid (names the file).
    """
    expected = last - first + 1
    if volume.num_slices != expected:
        raise ValueError(f'{volume.name}: holds {volume.num_slices} slices '
                         f'but its name says {first}-{last} ({expected})')
    pos = np.zeros((volume.num_slices, 3))
    pos[:, 2] = volume.grid_z
    z_world = volume.index_to_world(pos)[:, 2]
    step = float(volume.spacing[2])
    numbers = first + np.rint((z_world.max() - z_world) / step)
    numbers = numbers.astype(np.int64)
    if sorted(numbers.tolist()) != list(range(first, last + 1)):
        raise ValueError(f'{volume.name}: slices are not one regular axial '
                         f'run (cannot map them to slices {first}-{last})')
    return numbers


#: Pixels by which DeepLesion's 2D boxes (``Bounding_boxes`` of
#: ``DL_info.csv``) exceed the RECIST extent on every side. A detector trained
#: on them predicts padded boxes; the 3D protocol's boxes are tight.
DEEPLESION_BOX_PADDING = 5.0


def remove_box_padding(rows: np.ndarray, padding: float) -> np.ndarray:
    """Shrink the in-plane extent of ``(n, 7)`` 3D boxes by ``padding``
    pixels on every side (never below a point), e.g.
    :data:`DEEPLESION_BOX_PADDING` to score a detector trained on
    DeepLesion's padded 2D boxes against tight 3D boxes.

    Args:
        rows: ``(n, 7)`` rows ``[x1, y1, z1, x2, y2, z2, score]``.
        padding: Pixels to remove from each side (0: unchanged).

    Returns:
        np.ndarray: A new ``(n, 7)`` array.
    """
    if padding < 0:
        raise ValueError(f'box padding must be >= 0, got {padding}')
    out = np.array(rows, np.float64).reshape(-1, 7)
    if padding:
        for lo, hi in ((0, 3), (1, 4)):
            centre = (out[:, lo] + out[:, hi]) / 2
            out[:, lo] = np.minimum(out[:, lo] + padding, centre)
            out[:, hi] = np.maximum(out[:, hi] - padding, centre)
    return out


def candidate_boxes_3d(result: CTResult,
                       first: int,
                       last: int,
                       box_padding: float = 0.0) -> np.ndarray:
    """The 3D candidates of a sub-volume as ``(n, 7)`` rows
    ``[x1, y1, z1, x2, y2, z2, score]`` (pixels; z in whole-series slice
    numbers), best first; ``box_padding`` pixels are removed from every
    side (see :func:`remove_box_padding`)."""
    numbers = row_slice_numbers(result.volume, first, last)
    rows = []
    for cand in result.candidates:
        x1, y1, r1, x2, y2, r2 = cand['bbox_3d']
        zs = numbers[int(r1):int(r2) + 1]
        rows.append([x1, y1, zs.min(), x2, y2, zs.max(), cand['score']])
    return remove_box_padding(
        np.asarray(rows, np.float64).reshape(-1, 7), box_padding)


def predict_subvolume(model,
                      volume: 'CTVolume',
                      first: int,
                      last: int,
                      score_thr: float = 0.05,
                      link_iou: float = 0.3,
                      max_gap: int = 0,
                      top_k: Optional[int] = 50,
                      batch_size: int = 4,
                      progress: bool = False,
                      box_padding: float = 0.0,
                      **link_options) -> Tuple[np.ndarray, CTResult]:
    """Whole-volume inference on one sub-volume (its own slices only).

    Args:
        box_padding: Pixels removed from every side of the 3D boxes (see
            :func:`remove_box_padding`).
        link_options: ``extend_thr``, ``min_slices``, ``candidate_score``,
            ``full_length`` of :func:`inference_ct`.

    Returns:
        tuple: ``(n, 7)`` predictions (see :func:`candidate_boxes_3d`) and
        the :class:`CTResult`.
    """
    row_slice_numbers(volume, first, last)  # check before the model runs
    result = inference_ct(
        model,
        volume,
        batch_size=batch_size,
        score_thr=score_thr,
        link_iou=link_iou,
        max_gap=max_gap,
        top_k=top_k,
        progress=progress,
        **link_options)
    return candidate_boxes_3d(result, first, last, box_padding), result


def link_subvolume(grid_z: np.ndarray,
                   numbers: np.ndarray,
                   rows: np.ndarray,
                   boxes: np.ndarray,
                   scores: np.ndarray,
                   score_thr: float = 0.05,
                   link_iou: float = 0.3,
                   max_gap: int = 0,
                   top_k: Optional[int] = 50,
                   extend_thr: Optional[float] = None,
                   min_slices: int = 1,
                   candidate_score: str = 'max',
                   full_length: int = 3,
                   memo: Optional[dict] = None,
                   box_padding: float = 0.0) -> np.ndarray:
    """The ``(n, 7)`` predictions of :func:`predict_subvolume` (every
    slice run) from 2D detections kept at a lower score: re-linking
    without the model, for studies of the linking options.

    Args:
        grid_z: ``(D,)`` z grid position of every row (``volume.grid_z``).
        numbers: ``(D,)`` whole-series slice number of every row
            (:func:`row_slice_numbers`).
        rows, boxes, scores: ``(N,)``, ``(N, 4)``, ``(N,)`` 2D detections
            (as :func:`~cspr_det.apis.predict_rows` gives them, float32
            scores) at a score threshold no higher than ``extend_thr`` (or
            ``score_thr`` without it).
        memo: A dict kept across calls on the same detections: the
            linking of each (threshold, IoU, gap) is computed once.
        box_padding: Pixels removed from every side of the 3D boxes (see
            :func:`remove_box_padding`).
        Others: as in :func:`inference_ct`.

    Returns:
        np.ndarray: ``(n, 7)`` rows ``[x1, y1, z1, x2, y2, z2, score]``,
        best first.
    """
    if extend_thr is not None and not extend_thr <= score_thr:
        raise ValueError(f'extend_thr ({extend_thr}) must be <= score_thr '
                         f'({score_thr})')
    check_link_options(link_iou, max_gap + 1, min_slices, candidate_score,
                       full_length)
    scores = np.asarray(scores).reshape(-1)
    low = score_thr if extend_thr is None else extend_thr
    keep = scores >= np.asarray(low, scores.dtype)  # the detector's filter
    rows = np.asarray(rows, np.int64).reshape(-1)[keep]
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)[keep]
    scores = scores[keep]
    key = (float(low), float(link_iou), int(max_gap))
    track = None if memo is None else memo.get(key)
    if track is None:
        track = link_detections(
            np.asarray(grid_z)[rows], boxes, link_iou, max_gap + 1)
        if memo is not None:
            memo[key] = track
    groups, values = select_tracks(track, rows, boxes, scores, top_k,
                                   None if extend_thr is None else score_thr,
                                   min_slices, candidate_score, full_length)
    numbers = np.asarray(numbers, np.int64).reshape(-1)
    out = []
    for members, value in zip(groups, values):
        zs = numbers[rows[members].min():rows[members].max() + 1]
        out.append([
            boxes[members, 0].min(), boxes[members, 1].min(),
            zs.min(), boxes[members, 2].max(), boxes[members, 3].max(),
            zs.max(), value
        ])
    return remove_box_padding(
        np.asarray(out, np.float64).reshape(-1, 7), box_padding)
