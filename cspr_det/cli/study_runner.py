"""One train-and-evaluate runner for studies that train a config many times
(data efficiency, slice-count ablation).

Every run trains its config and then tests the run's best-validation
checkpoint (the ``best_*.pth`` that the config's
``CheckpointHook(save_best=...)`` writes), so every number of a study is
scored on the **test** split of the run's config, never on the validation
split that picked the checkpoint. Both steps are Python functions of this
package (:mod:`cspr_det.cli.study_steps`: mmengine's ``Runner`` built from
the config, the checkpoint loaded strictly for the test), each run in its
own process, ``python -m cspr_det.cli.study_steps {train,test} ...``
(optionally under ``torchrun`` with ``launcher='pytorch'``; or all in the
calling process with ``in_process``), several runs in parallel (``jobs``),
each in its own work directory:

``RUN_DIR/`` training work dir (logs, ``best_*.pth``), ``RUN_DIR/test/``
test work dir, ``RUN_DIR/train_stdout.log``, ``RUN_DIR/test_stdout.log`` and
``RUN_DIR/study_result.json`` (metrics, checkpoint, both commands).

A failed run is reported with its name and error and the others go on;
``skip_finished`` reads back runs that already have a result instead of
training them again. What a run's score is comes from ``metric_reader``, a
function of the test work dir; the default reads the metrics that mmengine's
``LoggerHook`` writes after a test epoch (``TEST_DIR/<timestamp>/
<timestamp>.json``), whatever the task family, e.g.
``deeplesion/mean_sens`` for detection, ``seg/mDice`` for segmentation or
``cls/auc`` for classification.
"""
import glob
import hashlib
import json
import os
import os.path as osp
import queue
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.logging import print_log

import cspr_det
from .study_steps import parse_step_args, run_test_step, run_train_step

MetricReader = Callable[[str], Dict[str, float]]
LAUNCHERS = ('none', 'pytorch')
RESULT_FILE = 'study_result.json'
#: The interpreter arguments of the two steps of a run (see the module
#: docstring); a study can pass others, e.g. the path of a script.
TRAIN_STEP = ('-m', 'cspr_det.cli.study_steps', 'train')
TEST_STEP = ('-m', 'cspr_det.cli.study_steps', 'test')
#: Folder that holds the ``cspr_det`` package the steps must import.
_PACKAGE_ROOT = osp.dirname(osp.dirname(osp.abspath(cspr_det.__file__)))
Step = Union[str, Sequence[str]]


@dataclass
class StudyRun:
    """One training run of a study.

    Args:
        name: Unique name, used in messages (e.g. ``'frac0.1_scratch_seed0'``).
        config: Config file of the run.
        work_dir: Training work dir; the test goes to ``work_dir/test``.
        cfg_options: ``key=value`` overrides passed to both train and test.
        factors: What distinguishes the run in the study (e.g.
            ``dict(fraction=0.1, init='scratch', seed=0)``); copied into the
            result rows.
    """
    name: str
    config: str
    work_dir: str
    cfg_options: List[str] = field(default_factory=list)
    factors: Dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    """Outcome of one :class:`StudyRun`: ``metrics`` of the test split (None
    when the run failed, then ``error`` says why)."""
    run: StudyRun
    metrics: Optional[Dict[str, float]] = None
    checkpoint: Optional[str] = None
    error: Optional[str] = None
    reused: bool = False

    @property
    def ok(self) -> bool:
        return self.metrics is not None


def read_test_metrics(test_dir: str) -> Dict[str, float]:
    """Numeric metrics of the newest test epoch logged below ``test_dir``.

    mmengine's ``LoggerHook.after_test_epoch`` writes one JSON object to
    ``<test work dir>/<timestamp>/<timestamp>.json``.

    Args:
        test_dir: The ``--work-dir`` given to ``tools/test.py``.

    Returns:
        dict: Metric name -> value (numbers only, e.g.
        ``{'deeplesion/mean_sens': 0.81, ...}``).

    Raises:
        FileNotFoundError: No test log below ``test_dir``.
    """
    logs = [
        p for p in glob.glob(osp.join(test_dir, '*', '*.json'))
        if osp.splitext(osp.basename(p))[0] == osp.basename(osp.dirname(p))
    ]
    if not logs:
        raise FileNotFoundError(f'no test metrics log (<timestamp>/'
                                f'<timestamp>.json) in {test_dir}')
    with open(sorted(logs)[-1], encoding='utf-8') as f:
        record = json.load(f)
    return {
        k: float(v)
        for k, v in record.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and population standard deviation (``ddof=0``: half the spread
    of two seeds) of ``values``; NaN entries are ignored."""
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return float('nan'), float('nan')
    return float(arr.mean()), float(arr.std())


def aggregate(results: Sequence[RunResult], group_by: Sequence[str],
              keys: Sequence[str]) -> List[Dict[str, Any]]:
    """Mean and spread over the runs (typically the seeds) that share the
    factors ``group_by``; failed runs are left out.

    Args:
        results: Run results.
        group_by: Factor names that define a group (e.g. fraction, init).
        keys: Metric keys to summarise.

    Returns:
        list[dict]: One dict per group in first-seen order, with the group's
        factors, ``n`` (successful runs) and for every key ``k``:
        ``k`` (mean), ``k + '_std'`` (population std) and ``k + '_values'``.
    """
    groups: Dict[tuple, List[RunResult]] = {}
    for res in results:
        if res.ok:
            gkey = tuple(res.run.factors[g] for g in group_by)
            groups.setdefault(gkey, []).append(res)
    rows = []
    for gkey, members in groups.items():
        row: Dict[str, Any] = dict(zip(group_by, gkey), n=len(members))
        for key in keys:
            values = [m.metrics.get(key, float('nan')) for m in members]
            row[key], row[key + '_std'] = mean_std(values)
            row[key + '_values'] = values
        rows.append(row)
    return rows


def format_mean_std(mean: float, std: float, n: int, digits: int = 3) -> str:
    """``'0.812 ± 0.011'`` (the spread only when ``n > 1``)."""
    text = f'{mean:.{digits}f}'
    return text + (f' ± {std:.{digits}f}' if n > 1 else '')


class StudyRunner:
    """Train and test many runs, in parallel, each on its best checkpoint.

    Args:
        train_step: What the interpreter runs to train: its arguments
            (default :data:`TRAIN_STEP`, ``-m cspr_det.cli.study_steps
            train``) or the path of a script; either takes ``CONFIG
            --work-dir DIR [--launcher L] [--cfg-options ...]``.
        test_step: The same for the test (default :data:`TEST_STEP`),
            taking ``CONFIG CHECKPOINT --work-dir DIR [--launcher L]
            [--cfg-options ...]``.
        metric_reader: Function of the test work dir returning the metrics.
            Defaults to :func:`read_test_metrics`.
        required_keys: Metric keys every run must report; a run whose test
            lacks one fails, naming the keys it has.
        launcher: ``'none'`` (one process per run) or ``'pytorch'`` (every
            train and test under ``torchrun --nproc_per_node gpus``, with
            ``--launcher pytorch``, as ``tools/dist_train.sh`` does).
        gpus: Processes (GPUs) per run; more than 1 needs ``'pytorch'``.
        jobs: Runs in parallel. With ``jobs > 1`` run slot ``i`` gets the
            devices ``i * gpus ... (i + 1) * gpus - 1`` of the visible ones
            (``CUDA_VISIBLE_DEVICES``, else all GPUs; nothing to share on a
            CPU machine), the master port ``master_port + i`` and, unless
            set, ``OMP_NUM_THREADS = cpus // (jobs * gpus)``.
        master_port: First ``torchrun`` master port.
        skip_finished: Read back runs whose ``study_result.json`` exists
            (and was written for the same config text and options) or,
            without one, whose test log exists, instead of running them
            again.
        python: Interpreter of the subprocesses. They import the same
            ``cspr_det`` as this process (its folder leads their
            ``PYTHONPATH``).
        cwd: Working directory of the subprocesses (relative data roots of
            configs resolve against it). Defaults to the current one.
        in_process: Run the default steps in this process instead (the
            functions of :mod:`cspr_det.cli.study_steps` called directly,
            one run after the other): no interpreter start and
            package import per step, but no launcher, one job, and the
            steps' output goes to this process's log instead of
            ``*_stdout.log``. The recorded commands are the equivalent
            subprocess commands.
    """

    def __init__(self,
                 train_step: Step = TRAIN_STEP,
                 test_step: Step = TEST_STEP,
                 metric_reader: MetricReader = read_test_metrics,
                 required_keys: Sequence[str] = (),
                 launcher: str = 'none',
                 gpus: int = 1,
                 jobs: int = 1,
                 master_port: int = 29500,
                 skip_finished: bool = False,
                 python: str = sys.executable,
                 cwd: Optional[str] = None,
                 in_process: bool = False) -> None:
        if launcher not in LAUNCHERS:
            raise ValueError(f'launcher must be one of {LAUNCHERS}, got '
                             f'{launcher!r}')
        if gpus < 1 or jobs < 1:
            raise ValueError(f'gpus and jobs must be >= 1, got {gpus}, {jobs}')
        if gpus > 1 and launcher == 'none':
            raise ValueError(f'--gpus {gpus} needs --launcher pytorch')
        self.train_step = self._step_args(train_step)
        self.test_step = self._step_args(test_step)
        self.metric_reader = metric_reader
        self.required_keys = list(required_keys)
        self.launcher = launcher
        self.gpus = gpus
        self.jobs = jobs
        self.master_port = master_port
        self.skip_finished = skip_finished
        self.python = python
        self.cwd = cwd or os.getcwd()
        self.in_process = in_process
        if in_process and (launcher != 'none' or jobs != 1):
            raise ValueError('in-process runs take no launcher and one job '
                             f'(got launcher {launcher!r}, jobs {jobs})')
        if in_process and (self.train_step != list(TRAIN_STEP)
                           or self.test_step != list(TEST_STEP)):
            raise ValueError('in-process runs use the default steps of '
                             'cspr_det.cli.study_steps')
        self._devices = self._device_slots()

    @staticmethod
    def _step_args(step: Step) -> List[str]:
        """Interpreter arguments of a step: a script path made absolute,
        a sequence of arguments as given."""
        if isinstance(step, str):
            return [osp.abspath(step)]
        return list(step)

    def _device_slots(self) -> Optional[List[str]]:
        """Device ids shared out between the run slots (None: leave
        ``CUDA_VISIBLE_DEVICES`` alone: one job, or no GPU)."""
        if self.jobs == 1:
            return None
        visible = os.environ.get('CUDA_VISIBLE_DEVICES')
        if visible is None:
            import torch
            ids = [str(i) for i in range(torch.cuda.device_count())]
        else:
            ids = [d.strip() for d in visible.split(',') if d.strip()]
        if not ids:
            return None
        need = self.jobs * self.gpus
        if len(ids) < need:
            raise ValueError(f'--jobs {self.jobs} x --gpus {self.gpus} needs '
                             f'{need} devices, {len(ids)} are visible '
                             f'({",".join(ids)})')
        return ids

    def env(self, slot: int) -> Dict[str, str]:
        """Environment of the subprocesses of run slot ``slot``."""
        env = dict(os.environ)
        path = env.get('PYTHONPATH')
        env['PYTHONPATH'] = _PACKAGE_ROOT + (os.pathsep + path if path else '')
        if self._devices is not None:
            env['CUDA_VISIBLE_DEVICES'] = ','.join(
                self._devices[slot * self.gpus:(slot + 1) * self.gpus])
        if self.jobs > 1 and 'OMP_NUM_THREADS' not in os.environ:
            env['OMP_NUM_THREADS'] = str(
                max(1, (os.cpu_count() or 1) // (self.jobs * self.gpus)))
        return env

    def _launch(self, step: List[str], slot: int) -> List[str]:
        if self.launcher == 'none':
            return [self.python] + step
        return [
            self.python, '-m', 'torch.distributed.run', '--nnodes', '1',
            '--nproc_per_node',
            str(self.gpus), '--master_port',
            str(self.master_port + slot)
        ] + step

    def _tail(self, run: StudyRun) -> List[str]:
        tail = [] if self.launcher == 'none' else ['--launcher', self.launcher]
        if run.cfg_options:
            tail += ['--cfg-options'] + list(run.cfg_options)
        return tail

    def train_command(self, run: StudyRun, slot: int = 0) -> List[str]:
        """The training command of ``run`` in slot ``slot``."""
        return self._launch(self.train_step, slot) + [
            run.config, '--work-dir', run.work_dir
        ] + self._tail(run)

    def test_command(self,
                     run: StudyRun,
                     checkpoint: str,
                     slot: int = 0) -> List[str]:
        """The test command of ``run`` on ``checkpoint`` (test work dir
        ``run.work_dir/test``)."""
        return self._launch(self.test_step, slot) + [
            run.config, checkpoint, '--work-dir',
            osp.join(run.work_dir, 'test')
        ] + self._tail(run)

    def _call(self, what: str, cmd: List[str], log_path: str,
              slot: int) -> None:
        if self.in_process:
            # cmd: python -m cspr_det.cli.study_steps {train,test} ...;
            # the step's arguments start at the step name
            args = parse_step_args(cmd[len(TRAIN_STEP):])
            step = run_train_step if args.step == 'train' else run_test_step
            try:
                step(args)
            except Exception as exc:
                raise RuntimeError(f'{what} failed: {type(exc).__name__}: '
                                   f'{exc}') from exc
            return
        with open(log_path, 'w', encoding='utf-8') as log:
            proc = subprocess.run(
                cmd,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env(slot))
        if proc.returncode != 0:
            with open(log_path, errors='replace') as f:
                lines = [ln.strip() for ln in f if ln.strip()]
            last = f': {lines[-1][:300]}' if lines else ''
            raise RuntimeError(f'{what} exited with {proc.returncode}{last} '
                               f'(log: {log_path})')

    @staticmethod
    def best_checkpoint(work_dir: str, since: float = 0.0) -> str:
        """Newest ``best_*.pth`` in ``work_dir`` written at or after the
        time ``since`` (older ones belong to an earlier attempt)."""
        found = [
            p for p in glob.glob(osp.join(work_dir, 'best_*.pth'))
            if osp.getmtime(p) >= since
        ]
        if not found:
            raise RuntimeError(
                f'training wrote no best checkpoint (best_*.pth) in '
                f'{work_dir}; the config\'s CheckpointHook needs save_best')
        return max(found, key=osp.getmtime)

    def _check_keys(self, metrics: Dict[str, float]) -> None:
        missing = [k for k in self.required_keys if k not in metrics]
        if missing:
            raise ValueError(f'test metrics lack {missing}; they have '
                             f'{sorted(metrics)}')

    @staticmethod
    def fingerprint(run: StudyRun) -> str:
        """SHA-1 of the run's config file text and its options: a result is
        only read back for the same configuration."""
        digest = hashlib.sha1()
        with open(run.config, 'rb') as f:
            digest.update(f.read())
        digest.update('\n'.join(run.cfg_options).encode())
        return digest.hexdigest()

    def _read_back(self, run: StudyRun) -> Optional[RunResult]:
        path = osp.join(run.work_dir, RESULT_FILE)
        if osp.isfile(path):
            with open(path, encoding='utf-8') as f:
                saved = json.load(f)
            if saved.get('fingerprint', self.fingerprint(run)) != \
                    self.fingerprint(run):
                print_log(f'[study] {run.name}: config or options changed '
                          'since the saved result, running again')
                return None
            metrics, ckpt = saved['metrics'], saved.get('checkpoint')
        else:  # tested before result files existed
            try:
                metrics = self.metric_reader(osp.join(run.work_dir, 'test'))
            except FileNotFoundError:
                return None
            ckpt = None
        self._check_keys(metrics)
        return RunResult(run, metrics=metrics, checkpoint=ckpt, reused=True)

    def run_one(self, run: StudyRun, slot: int = 0) -> RunResult:
        """Train, test and read one run (exceptions are returned as a
        failed :class:`RunResult`, not raised)."""
        try:
            if self.skip_finished:
                done = self._read_back(run)
                if done is not None:
                    print_log(f'[study] {run.name}: finished before, read '
                              'back')
                    return done
            os.makedirs(run.work_dir, exist_ok=True)
            fingerprint = self.fingerprint(run)
            print_log(f'[study] {run.name}: training -> {run.work_dir}')
            start = time.time() - 1.0
            train_cmd = self.train_command(run, slot)
            self._call('training', train_cmd,
                       osp.join(run.work_dir, 'train_stdout.log'), slot)
            ckpt = self.best_checkpoint(run.work_dir, since=start)
            test_cmd = self.test_command(run, ckpt, slot)
            self._call('test', test_cmd,
                       osp.join(run.work_dir, 'test_stdout.log'), slot)
            metrics = self.metric_reader(osp.join(run.work_dir, 'test'))
            self._check_keys(metrics)
        except Exception as exc:  # keep the other runs going
            return RunResult(run, error=f'{type(exc).__name__}: {exc}')
        with open(
                osp.join(run.work_dir, RESULT_FILE), 'w',
                encoding='utf-8') as f:
            json.dump(
                dict(
                    name=run.name,
                    factors=run.factors,
                    fingerprint=fingerprint,
                    metrics=metrics,
                    checkpoint=ckpt,
                    train_command=train_cmd,
                    test_command=test_cmd,
                    cwd=self.cwd),
                f,
                indent=1)
        return RunResult(run, metrics=metrics, checkpoint=ckpt)

    def run_all(self, runs: Sequence[StudyRun]) -> List[RunResult]:
        """Run every run, ``jobs`` at a time; results in the order of
        ``runs``. Failed runs are printed with their error."""
        names = [r.name for r in runs]
        if len(set(names)) != len(names):
            raise ValueError(f'run names must be unique, got {names}')
        slots: 'queue.Queue[int]' = queue.Queue()
        for i in range(self.jobs):
            slots.put(i)

        def one(run: StudyRun) -> RunResult:
            slot = slots.get()
            try:
                res = self.run_one(run, slot)
            finally:
                slots.put(slot)
            if res.ok:
                print_log(f'[study] {run.name}: done')
            else:
                print_log(f'[study] {run.name} FAILED: {res.error}')
            return res

        if self.in_process:  # in this thread: the Runner is not shared
            return [one(run) for run in runs]
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            return list(pool.map(one, runs))


def add_runner_args(parser, default_work_dir: str) -> None:
    """Command-line options of a study tool that go to the runner."""
    parser.add_argument('--work-dir', default=default_work_dir)
    parser.add_argument(
        '--seeds',
        type=int,
        nargs='+',
        default=[0],
        help='training seeds (randomness.seed); results '
        'report the mean and spread over them')
    parser.add_argument(
        '--jobs',
        type=int,
        default=1,
        help='runs in parallel (each on its own GPUs / '
        'cores and master port)')
    parser.add_argument(
        '--skip-finished',
        action='store_true',
        help='read back runs that already have a result '
        'instead of training them again')
    parser.add_argument(
        '--launcher',
        choices=LAUNCHERS,
        default='none',
        help='pytorch: every train and test through '
        'torchrun --nproc_per_node GPUS')
    parser.add_argument(
        '--gpus',
        type=int,
        default=1,
        help='processes (GPUs) per run with --launcher '
        'pytorch')
    parser.add_argument(
        '--master-port',
        type=int,
        default=29500,
        help='torchrun master port of the first parallel '
        'job (job i uses port + i)')
    parser.add_argument(
        '--in-process',
        action='store_true',
        help='train and test every run in this process, '
        'one after the other (no interpreter start per '
        'step; no --launcher, --jobs 1)')


def runner_from_args(args, **kwargs) -> StudyRunner:
    """A :class:`StudyRunner` from :func:`add_runner_args` options (and
    ``kwargs``: ``train_step``, ``test_step``, ``required_keys``, ...)."""
    if len(set(args.seeds)) != len(args.seeds):
        raise ValueError(f'--seeds repeats a seed: {args.seeds}')
    return StudyRunner(
        launcher=args.launcher,
        gpus=args.gpus,
        jobs=args.jobs,
        master_port=args.master_port,
        skip_finished=args.skip_finished,
        in_process=args.in_process,
        **kwargs)
