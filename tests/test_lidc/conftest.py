"""Session-wide tiny synthetic LIDC set for the LIDC tests."""
import pytest

from cspr_det.datasets.synthetic.make_synthetic_lidc import make_synthetic_lidc


@pytest.fixture(scope='session')
def tiny_lidc(tmp_path_factory):
    """A tiny synthetic LIDC set (12 patients, 52^3 crops) written once."""
    root = str(tmp_path_factory.mktemp('tiny_lidc'))
    summary = make_synthetic_lidc(root, preset='tiny', num_patients=12, seed=0)
    assert summary['nodules'] >= 20, summary
    return root
