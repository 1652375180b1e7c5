"""cspr_det registries.

Every registry is a child of mmengine's root registry with scope ``cspr_det``
and lazily imports its ``locations`` the first time a name is looked up.

Scope rule: configs run under mmdet's default scope (``default_scope='mmdet'``)
and name every cspr_det component with its prefix, e.g.
``type='cspr_det.MP3DResNet'``; upstream (mmdet/mmengine) names stay bare.
In Python code, write scope-qualified names (``'mmdet.CrossEntropyLoss'``).

``CT_READERS`` (the CT file readers of :mod:`cspr_det.fileio`) has no
mmengine parent: mmengine has no file-reader registry to extend.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import \
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

SCOPE = 'cspr_det'

MODELS = Registry(
    'model',
    parent=MMENGINE_MODELS,
    scope=SCOPE,
    locations=['cspr_det.models'])
DATASETS = Registry(
    'dataset',
    parent=MMENGINE_DATASETS,
    scope=SCOPE,
    locations=['cspr_det.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler',
    parent=MMENGINE_DATA_SAMPLERS,
    scope=SCOPE,
    locations=['cspr_det.datasets'])
TRANSFORMS = Registry(
    'transform',
    parent=MMENGINE_TRANSFORMS,
    scope=SCOPE,
    locations=['cspr_det.datasets.transforms'])
METRICS = Registry(
    'metric',
    parent=MMENGINE_METRICS,
    scope=SCOPE,
    locations=['cspr_det.evaluation'])
EVALUATOR = Registry(
    'evaluator',
    parent=MMENGINE_EVALUATOR,
    scope=SCOPE,
    locations=['cspr_det.evaluation'])
HOOKS = Registry(
    'hook', parent=MMENGINE_HOOKS, scope=SCOPE, locations=['cspr_det.engine'])
LOOPS = Registry(
    'loop', parent=MMENGINE_LOOPS, scope=SCOPE, locations=['cspr_det.engine'])
TASK_UTILS = Registry(
    'task util',
    parent=MMENGINE_TASK_UTILS,
    scope=SCOPE,
    locations=['cspr_det.models'])
VISUALIZERS = Registry(
    'visualizer',
    parent=MMENGINE_VISUALIZERS,
    scope=SCOPE,
    locations=['cspr_det.visualization'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer',
    parent=MMENGINE_WEIGHT_INITIALIZERS,
    scope=SCOPE,
    locations=['cspr_det.models'])
CT_READERS = Registry('ct reader', scope=SCOPE, locations=['cspr_det.fileio'])
