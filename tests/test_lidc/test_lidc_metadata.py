"""The real LIDC tables (packaged copies of the community CSVs): label
protocol counts, the leaky reference split and the patient-disjoint split."""
import csv

import pytest

# yapf: disable
from cspr_det.datasets.lidc_metadata import (PACKAGED_INFO_CSV,
                                             PACKAGED_SPLIT_CSV, build_split,
                                             malignancy_label, nodule_label,
                                             patient_disjoint_split,
                                             read_nodule_info,
                                             read_reference_split,
                                             shared_patients)
# yapf: enable
from cspr_det.datasets.patient_subsets import choose_patients


@pytest.fixture(scope='module')
def real():
    return (read_nodule_info(PACKAGED_INFO_CSV),
            read_reference_split(PACKAGED_SPLIT_CSV))


def _counts(info, ids):
    labels = [nodule_label(info[i], 'classification') for i in ids]
    return len(ids), labels.count(0), labels.count(1)


def test_real_table_shape(real):
    info, ref = real
    assert len(info) == 2635
    # the test column repeats names: 526 rows, 491 distinct
    with open(PACKAGED_SPLIT_CSV, newline='') as f:
        rows = list(csv.DictReader(f))
    assert sum(bool(r['test']) for r in rows) == 526
    assert sum(bool(r['train']) for r in rows) == 2142
    assert len(ref['train']) == 2142 and len(ref['test']) == 491
    assert not set(ref['train']) & set(ref['test'])


def test_real_classification_label_counts_pinned(real):
    """The ACS two-class protocol on the shipped CSVs."""
    info, ref = real
    split = build_split(info, ref, 'classification', 'reference')
    assert _counts(info, split['trainval']) == (1323, 986, 337)
    assert _counts(info, split['test']) == (310, 246, 64)
    # val is carved out of the reference train column by patient
    assert sorted(split['train'] + split['val']) == sorted(split['trainval'])
    assert not shared_patients(info, split['train'], split['val'])


def test_label_protocol():
    assert [malignancy_label(m) for m in range(6)] == [None, 0, 0, None, 1, 1]


def test_reference_split_leaks_patients(real):
    info, ref = real
    assert len({info[i].uid for i in ref['train']}) == 796
    assert len({info[i].uid for i in ref['test']}) == 340
    assert len({info[i].scan for i in ref['train']}) == 803
    assert len({info[i].scan for i in ref['test']}) == 341
    assert len(shared_patients(info, ref['train'], ref['test'])) == 268
    # the 'subset' column is a nodule-level fold too
    folds = {}
    for n in info.values():
        folds.setdefault(n.uid, set()).add(n.fold)
    assert sum(len(f) > 1 for f in folds.values()) == 535


@pytest.mark.parametrize('task', ['classification', 'segmentation'])
def test_patient_split_shares_no_patient(real, task):
    info, ref = real
    split = build_split(info, ref, task, 'patient', seed=0)
    parts = [split['train'], split['val'], split['test']]
    for a in range(3):
        for b in range(a + 1, 3):
            assert not shared_patients(info, parts[a], parts[b])
    every = sorted(sum(parts, []))
    expected = 1633 if task == 'classification' else 2633
    assert len(every) == len(set(every)) == expected
    # nodule fractions close to 70 / 10 / 20 %
    for ids, frac in zip(parts, (0.7, 0.1, 0.2)):
        assert abs(len(ids) / expected - frac) < 0.03
    if task == 'classification':  # stratified by malignant patients
        rates = [_counts(info, ids)[2] / len(ids) for ids in parts]
        assert max(rates) - min(rates) < 0.06, rates


def test_patient_split_is_seeded(real):
    info, ref = real
    a = build_split(info, ref, 'classification', 'patient', seed=0)
    b = build_split(info, ref, 'classification', 'patient', seed=0)
    c = build_split(info, ref, 'classification', 'patient', seed=1)
    assert a == b
    assert a['test'] != c['test']


def test_patient_split_hand_case():
    from cspr_det.datasets.lidc_metadata import LIDCNodule
    nodules = [
        LIDCNodule(f'n{p}_{k}', f'P{p}', f's{p}', 1, 5.0, '')
        for p in range(10) for k in range(p % 3 + 1)
    ]
    split = patient_disjoint_split(nodules, None, (0.5, 0.0, 0.5), seed=3)
    assert not split['val']
    assert sorted(split['train'] + split['test']) == sorted(n.index
                                                            for n in nodules)
    of = {i: part for part, ids in split.items() for i in ids}
    for n in nodules:  # every patient in one part
        assert of[n.index] == of[f'n{n.uid[1:]}_0']


def test_choose_patients_nested():
    ids = [f'P{i}' for i in range(50)]
    small = choose_patients(ids, 0.1, seed=0)
    large = choose_patients(ids, 0.4, seed=0)
    assert len(small) == 5 and len(large) == 20
    assert set(small) <= set(large)
    assert choose_patients(ids, 1.0) == sorted(ids)
    with pytest.raises(ValueError, match='fraction'):
        choose_patients(ids, 0.0)


def test_bad_tables(tmp_path):
    path = tmp_path / 'info.csv'
    path.write_text('index,uid\nlidc1_1,P1\n')
    with pytest.raises(ValueError, match='malignancy_mode'):
        read_nodule_info(str(path))
    path.write_text('index,uid,malignancy_mode\nlidc1_1,P1,4\nlidc1_1,P1,2\n')
    with pytest.raises(ValueError, match='nodule lidc1_1 repeats'):
        read_nodule_info(str(path))
    path.write_text('index,uid,malignancy_mode\nlidc1_1,P1,high\n')
    with pytest.raises(ValueError, match="lidc1_1 has malignancy_mode 'high'"):
        read_nodule_info(str(path))
    path.write_text('index,uid,malignancy_mode\nlidc1_1,P1,4\n')
    info = read_nodule_info(str(path))
    with pytest.raises(ValueError, match='lidc9_9'):
        build_split(info, dict(train=['lidc1_1'], test=['lidc9_9']),
                    'classification', 'reference')
    with pytest.raises(FileNotFoundError, match='nowhere.csv'):
        read_reference_split(str(tmp_path / 'nowhere.csv'))
    with pytest.raises(ValueError, match="'patient' or 'reference'"):
        build_split(info, None, 'classification', 'nodule')
