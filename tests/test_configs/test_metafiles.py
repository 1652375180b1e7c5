"""The model index lists every config, and its figures match the READMEs.

Every config file outside ``configs/_base_/`` is listed in exactly one
``metafile.yml`` (OpenMMLab model-index format), every metafile entry points
at an existing config, ``model-index.yml`` imports every metafile, and every
result figure of a metafile equals the figure written in the ``measured``
column of its config's row in the folder's ``README.md``.
"""
import glob
import os.path as osp
import re

import pytest
import yaml

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
METAFILES = sorted(
    osp.relpath(p, REPO) for p in glob.glob(
        osp.join(REPO, 'configs', '**', 'metafile.yml'), recursive=True))


def _load(rel):
    with open(osp.join(REPO, rel), encoding='utf-8') as f:
        return yaml.safe_load(f)


def _configs():
    paths = glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    return sorted(
        osp.relpath(p, REPO) for p in paths
        if '_base_' not in osp.relpath(p, REPO).split(osp.sep))


def _figures(cell):
    """``'a = 0.9; b = 7.0'`` -> ``{'a': 0.9, 'b': 7.0}``."""
    return {
        k.strip(): float(v)
        for k, v in re.findall(r'([^;=]+?)\s*=\s*([-0-9.]+)', cell)
    }


def _metafile_figures(model):
    figures = {}
    for result in model['Results'] or []:
        figures.update({k: float(v) for k, v in result['Metrics'].items()})
    return figures


def _readme_rows(folder):
    """Config file name -> the cells of its row in the folder's README."""
    rows = {}
    with open(osp.join(REPO, folder, 'README.md'), encoding='utf-8') as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip('|').split('|')]
            m = re.fullmatch(r'`([^`]+\.py)`', cells[0]) if cells else None
            if m:
                rows[m.group(1)] = cells
    return rows


def test_model_index_imports_every_metafile():
    assert len(METAFILES) >= 6
    assert sorted(_load('model-index.yml')['Import']) == METAFILES


def test_every_config_listed_once_and_every_entry_exists():
    listed = []
    for rel in METAFILES:
        meta = _load(rel)
        collections = {c['Name'] for c in meta['Collections']}
        for model in meta['Models']:
            assert osp.isfile(osp.join(REPO, model['Config'])), \
                f"{rel}: {model['Name']} points at a missing config"
            assert model['Name'] == osp.splitext(
                osp.basename(model['Config']))[0]
            assert model['In Collection'] in collections
            assert osp.dirname(model['Config']) == osp.dirname(rel)
            assert 'Weights' in model and 'Metadata' in model
            listed.append(model['Config'])
    assert sorted(listed) == sorted(set(listed)), 'a config is listed twice'
    missing = sorted(set(_configs()) - set(listed))
    assert not missing, f'configs missing from every metafile: {missing}'


@pytest.mark.parametrize('rel', METAFILES)
def test_metafile_figures_equal_readme(rel):
    folder = osp.dirname(rel)
    rows = _readme_rows(folder)
    meta = _load(rel)
    assert set(rows) == {osp.basename(m['Config'])
                         for m in meta['Models']
                         }, f'{folder}/README.md table != metafile'
    for model in meta['Models']:
        cells = rows[osp.basename(model['Config'])]
        written = _figures(cells[4])
        expected = _metafile_figures(model)
        assert written == expected, (
            f"{model['Name']}: README says {written}, metafile {expected}")


def test_figure_check_catches_a_difference():
    """A README figure that differs from the metafile by one digit is seen."""
    name = 'faster-rcnn_mp3d18ba-gtm_fpn_1xb4-24e_synthetic-deeplesion-9slice'
    cells = _readme_rows('configs/deeplesion')[name + '.py']
    model = [
        m for m in _load('configs/deeplesion/metafile.yml')['Models']
        if m['Name'] == name
    ][0]
    assert _figures(cells[4]) == _metafile_figures(model)
    value = _metafile_figures(model)['sens@4']
    text = f'sens@4 = {value:.3f}'
    assert text in cells[4]
    changed = cells[4].replace(text, f'sens@4 = {value - 0.001:.3f}')
    assert _figures(changed) != _metafile_figures(model)
