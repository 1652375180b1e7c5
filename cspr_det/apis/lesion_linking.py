"""Linking 2D lesion detections on neighbouring CT slices into 3D candidates.

Pure numpy. A candidate starts at a detection no existing candidate takes;
on every later slice within ``max_step`` slices of its last detection it
takes the detection that overlaps its last box most (IoU >= ``iou_thr``),
pairs being matched greedily by decreasing IoU (one detection per candidate
and slice, one candidate per detection). Two lesions that touch in-plane but
lie on different slices never overlap, so they stay two candidates.

Options of :func:`group_detections` / :func:`build_candidates`:

* ``score_thr`` (hysteresis): every detection given is linked, but a track
  becomes a candidate only if one of its detections scores at least
  ``score_thr``. Given detections down to a lower ``extend_thr``, weak
  detections on a lesion's end slices extend a confident track, so its z
  extent covers the lesion, not only its confident slices.
* ``min_slices``: a candidate needs detections on at least this many
  slices.
* ``candidate_score``: the score of a candidate from the scores
  ``s_1..s_n`` of its ``n`` detections (one per slice), see
  :data:`CANDIDATE_SCORES`: ``'max'`` max(s) (the default), ``'mean'``
  mean(s), ``'sum'`` sum(s) (not bounded by 1), ``'max_len'``
  max(s) * min(1, n / L) and ``'mean_len'`` mean(s) * min(1, n / L), with
  ``L = full_length`` slices (shorter candidates are discounted).
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np

from cspr_det.evaluation.functional.box_overlaps import pairwise_overlaps


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (n, 4) with every box of ``b`` (m, 4)
    (x1, y1, x2, y2; mmdet's sizes ``x2 - x1``); shape (n, m)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    pairs = pairwise_overlaps(np.repeat(a, len(b), 0), np.tile(b, (len(a), 1)))
    return pairs.reshape(len(a), len(b))


def link_detections(z: np.ndarray,
                    boxes: np.ndarray,
                    iou_thr: float = 0.3,
                    max_step: int = 1) -> np.ndarray:
    """Group 2D detections into 3D tracks.

    Args:
        z: (N,) slice position of every detection (on the regular z grid).
        boxes: (N, 4) boxes x1, y1, x2, y2 in pixels.
        iou_thr: Minimum IoU with a track's last box to join it.
        max_step: Largest z distance between two consecutive detections of
            a track (1: neighbouring slices only).

    Returns:
        np.ndarray: (N,) int track id of every detection, 0..T-1 in the
        order the tracks start.
    """
    z = np.asarray(z, np.int64).reshape(-1)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if not 0 < iou_thr <= 1:
        raise ValueError(f'iou_thr must be in (0, 1], got {iou_thr}')
    if max_step < 1:
        raise ValueError(f'max_step must be >= 1, got {max_step}')
    track = np.full(len(z), -1, np.int64)
    active: List[list] = []  # [track id, last z, last box]
    num_tracks = 0
    for zi in np.unique(z):
        dets = np.flatnonzero(z == zi)
        active = [t for t in active if zi - t[1] <= max_step]
        if active:
            iou = iou_matrix(np.stack([t[2] for t in active]), boxes[dets])
            pairs = np.argwhere(iou >= iou_thr)
            order = np.argsort(-iou[pairs[:, 0], pairs[:, 1]], kind='stable')
            used_t, used_d = set(), set()
            for ti, di in pairs[order]:
                if ti in used_t or di in used_d:
                    continue
                used_t.add(ti)
                used_d.add(di)
                track[dets[di]] = active[ti][0]
                active[ti][1:] = [zi, boxes[dets[di]]]
        for d in dets:
            if track[d] < 0:
                track[d] = num_tracks
                active.append([num_tracks, zi, boxes[d]])
                num_tracks += 1
    return track


#: Rules for the score of a 3D candidate (see the module docstring).
CANDIDATE_SCORES = ('max', 'mean', 'sum', 'max_len', 'mean_len')


def score_candidate(scores: np.ndarray,
                    rule: str = 'max',
                    full_length: int = 3) -> float:
    """The score of a candidate from the ``(n,)`` scores of its detections
    (one per slice) under ``rule`` (one of :data:`CANDIDATE_SCORES`;
    ``full_length``: the ``L`` of the length-weighted rules)."""
    scores = np.asarray(scores, np.float64).reshape(-1)
    if rule == 'max':
        return float(scores.max())
    if rule == 'mean':
        return float(scores.mean())
    if rule == 'sum':
        return float(scores.sum())
    weight = min(1.0, len(scores) / float(full_length))
    if rule == 'max_len':
        return float(scores.max() * weight)
    if rule == 'mean_len':
        return float(scores.mean() * weight)
    raise ValueError(f'candidate_score must be one of {CANDIDATE_SCORES}, '
                     f'got {rule!r}')


def check_link_options(iou_thr: float = 0.3,
                       max_step: int = 1,
                       min_slices: int = 1,
                       candidate_score: str = 'max',
                       full_length: int = 3) -> None:
    """Raise ValueError naming the first invalid linking option."""
    if not 0 < iou_thr <= 1:
        raise ValueError(f'iou_thr must be in (0, 1], got {iou_thr}')
    if max_step < 1:
        raise ValueError(f'max_step must be >= 1, got {max_step}')
    if int(min_slices) != min_slices or min_slices < 1:
        raise ValueError(f'min_slices must be an integer >= 1, got '
                         f'{min_slices}')
    if candidate_score not in CANDIDATE_SCORES:
        raise ValueError(f'candidate_score must be one of '
                         f'{CANDIDATE_SCORES}, got {candidate_score!r}')
    if int(full_length) != full_length or full_length < 1:
        raise ValueError(f'full_length must be an integer >= 1, got '
                         f'{full_length}')


def group_detections(
        grid_z: np.ndarray,
        rows: np.ndarray,
        boxes: np.ndarray,
        scores: np.ndarray,
        iou_thr: float = 0.3,
        max_step: int = 1,
        top_k: Optional[int] = None,
        score_thr: Optional[float] = None,
        min_slices: int = 1,
        candidate_score: str = 'max',
        full_length: int = 3) -> Tuple[List[np.ndarray], List[float]]:
    """Link detections and rank the tracks that qualify as candidates.

    Args:
        grid_z: (D,) position of every array row on the regular z grid.
        rows: (N,) array row (slice) of every detection.
        boxes: (N, 4) boxes x1, y1, x2, y2 in pixels.
        scores: (N,) scores (the ``score_thr`` test is done in their own
            dtype, float32 for the detector's, as the detector's filter).
        iou_thr, max_step: See :func:`link_detections`.
        top_k: Keep the ``top_k`` best candidates (None keeps all).
        score_thr: A track is kept only if one of its detections scores at
            least this (None: every track).
        min_slices: A track is kept only with detections on at least this
            many slices.
        candidate_score, full_length: The candidate score rule, see
            :func:`score_candidate`.

    Returns:
        tuple: the member detections (index arrays) of every candidate and
        its score, best first (ties: by the slice, then the box of the best
        detection).
    """
    check_link_options(iou_thr, max_step, min_slices, candidate_score,
                       full_length)
    rows = np.asarray(rows, np.int64).reshape(-1)
    track = link_detections(np.asarray(grid_z)[rows], boxes, iou_thr, max_step)
    return select_tracks(track, rows, boxes, scores, top_k, score_thr,
                         min_slices, candidate_score, full_length)


def select_tracks(
        track: np.ndarray,
        rows: np.ndarray,
        boxes: np.ndarray,
        scores: np.ndarray,
        top_k: Optional[int] = None,
        score_thr: Optional[float] = None,
        min_slices: int = 1,
        candidate_score: str = 'max',
        full_length: int = 3) -> Tuple[List[np.ndarray], List[float]]:
    """The second half of :func:`group_detections`: from the ``(N,)`` track
    id of every detection (:func:`link_detections`), the tracks that
    qualify, scored and ranked (same arguments and result)."""
    raw = np.asarray(scores).reshape(-1)
    rows = np.asarray(rows, np.int64).reshape(-1)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scores = raw.astype(np.float64)
    track = np.asarray(track, np.int64).reshape(-1)
    order = np.argsort(track, kind='stable')
    groups = np.split(order, np.flatnonzero(np.diff(track[order])) + 1) \
        if len(track) else []
    if score_thr is not None:
        seeds = raw >= np.asarray(score_thr, raw.dtype) if \
            np.issubdtype(raw.dtype, np.floating) else scores >= score_thr
        groups = [g for g in groups if seeds[g].any()]
    groups = [g for g in groups if len(np.unique(rows[g])) >= min_slices]
    best = [int(g[np.argmax(scores[g])]) for g in groups]
    value = [
        score_candidate(scores[g], candidate_score, full_length)
        for g in groups
    ]
    rank = sorted(
        range(len(groups)),
        key=lambda t: (-value[t], rows[best[t]], tuple(boxes[best[t]])))
    if top_k is not None:
        rank = rank[:max(int(top_k), 0)]
    return [groups[t] for t in rank], [value[t] for t in rank]


def _candidate(volume, members: np.ndarray, rows: np.ndarray,
               boxes: np.ndarray, scores: np.ndarray, value: float) -> dict:
    """The description of one 3D candidate (see
    :func:`build_candidates`)."""
    best = members[int(np.argmax(scores[members]))]
    member_rows = rows[members]
    z_first, z_last = int(member_rows.min()), int(member_rows.max())
    gz = volume.grid_z
    x1, y1 = boxes[members, 0].min(), boxes[members, 1].min()
    x2, y2 = boxes[members, 2].max(), boxes[members, 3].max()
    sx, sy, sz = volume.spacing
    w, h = boxes[best, 2] - boxes[best, 0], boxes[best, 3] - boxes[best, 1]
    diam = sorted((float(w * sx), float(h * sy)), reverse=True)
    # continuous voxel indices: pixel i spans [i - 0.5, i + 0.5]
    lo = np.array([x1 - 0.5, y1 - 0.5, gz[z_first] - 0.5])
    hi = np.array([x2 - 0.5, y2 - 0.5, gz[z_last] + 0.5])
    centre = volume.index_to_world((lo + hi) / 2)[0]
    names = volume.slice_names
    return dict(
        score=float(value),
        max_score=float(scores[best]),
        best_slice=int(rows[best]),
        best_slice_name=names[int(rows[best])] if names else '',
        num_slices=int(len(np.unique(member_rows))),
        z_first=z_first,
        z_last=z_last,
        z_extent_mm=float((gz[z_last] - gz[z_first] + 1) * sz),
        box_2d=[float(v) for v in boxes[best]],
        bbox_3d=[float(x1),
                 float(y1), z_first,
                 float(x2),
                 float(y2), z_last],
        long_mm=diam[0],
        short_mm=diam[1],
        size_mm=[
            float((x2 - x1) * sx),
            float((y2 - y1) * sy),
            float((gz[z_last] - gz[z_first] + 1) * sz)
        ],
        center_mm=[float(v) for v in centre],
        corners_mm=[[float(v) for v in p]
                    for p in volume.index_to_world(np.stack([lo, hi]))],
        center_source_index=[
            float(v) for v in volume.world_to_source_index(centre)[0]
        ])


def build_candidates(volume,
                     rows: np.ndarray,
                     boxes: np.ndarray,
                     scores: np.ndarray,
                     iou_thr: float = 0.3,
                     max_step: int = 1,
                     top_k: Optional[int] = None,
                     score_thr: Optional[float] = None,
                     min_slices: int = 1,
                     candidate_score: str = 'max',
                     full_length: int = 3) -> Sequence:
    """Link detections and describe the resulting 3D candidates.

    Args:
        volume: The :class:`~cspr_det.apis.CTVolume` (geometry).
        rows: (N,) array row (slice) of every detection.
        boxes: (N, 4) boxes in pixels of the canonical slice grid.
        scores: (N,) scores.
        iou_thr, max_step: See :func:`link_detections` (``max_step`` in
            slices of the regular z grid).
        top_k: Keep the ``top_k`` best candidates (None keeps all).
        score_thr, min_slices, candidate_score, full_length: Which tracks
            become candidates and their score, see :func:`group_detections`
            (the defaults keep every track, scored by its best detection).

    Returns:
        tuple: ``candidates`` (list of dicts sorted by decreasing score,
        ``id`` 1..K; fields: ``score`` (under ``candidate_score``),
        ``max_score`` (of its best detection), ``best_slice`` (row of the
        best detection) and its file name, ``num_slices``, ``z_first`` /
        ``z_last`` (rows), ``z_extent_mm``, ``box_2d`` (on the best slice),
        ``bbox_3d`` ``[x1, y1, z_first, x2, y2, z_last]`` (pixels, rows;
        the union of its detections), ``long_mm`` / ``short_mm`` (box sides
        on the best slice), ``size_mm`` (x, y, z), ``center_mm`` and
        ``corners_mm`` (world LPS mm), ``center_source_index`` (x, y, z
        voxel of the stored input)) and the (N,) candidate id of every
        detection (0: not kept).
    """
    rows = np.asarray(rows, np.int64).reshape(-1)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    groups, values = group_detections(volume.grid_z, rows, boxes, scores,
                                      iou_thr, max_step, top_k, score_thr,
                                      min_slices, candidate_score, full_length)
    scores = np.asarray(scores, np.float64).reshape(-1)
    ids = np.zeros(len(rows), np.int64)
    candidates = []
    for k, (members, value) in enumerate(zip(groups, values), 1):
        ids[members] = k
        candidates.append(
            dict(
                id=k,
                **_candidate(volume, members, rows, boxes, scores, value)))
    return candidates, ids
