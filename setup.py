"""Install cspr_det. Version bounds live in requirements/*.txt only."""
import os.path as osp
from setuptools import find_packages, setup


def read_requirements(name: str) -> list:
    path = osp.join(osp.dirname(osp.abspath(__file__)), 'requirements', name)
    reqs = []
    with open(path) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line.startswith('-r '):
                reqs.extend(read_requirements(line[3:].strip()))
            elif line:
                reqs.append(line)
    return reqs


def get_version() -> str:
    scope = {}
    with open(osp.join('cspr_det', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


setup(
    name='cspr_det',
    version=get_version(),
    description='Pseudo-3D backbones, DeepLesion lesion detection and VDT '
    'supervised 3D pre-training on mmengine/mmcv/mmdet',
    long_description=open('README.md').read()
    if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'demo')),
    python_requires='>=3.8',
    install_requires=read_requirements('runtime.txt'),
    extras_require={
        'tests': read_requirements('tests.txt'),
        'lint': read_requirements('lint.txt'),
        'mim': read_requirements('mminstall.txt'),
    },
    zip_safe=False)
