"""Sliding-window inference of the StdUNet: cspr_det against MONAI.

Runs, each in a fresh spawned subprocess with the same weights (seed 0), the
same random volume (seed 1), the same windows and the same window batches:

  * ``cspr_det``: :func:`cspr_det.models.utils.sliding_window_inference`
    returning averaged logits (what ``test_cfg.return_logits=True`` does);
  * ``monai``: ``monai.inferers.sliding_window_inference`` with identical
    settings (``mode='constant'``, ``overlap = 1 - stride / window`` per
    axis, same ``sw_batch_size``, same devices);
  * ``cspr_det-labels``: the bounded-memory label path (the default of
    ``VolumeSegmentor``: a slab of logits, arg-max labels out).

Every subprocess runs one untimed warm-up batch of windows, then the
inference ``--repeat`` times under ``torch.inference_mode``; the time is
the fastest run, as wall-clock seconds and as CPU seconds of the process
(all threads; on a shared CPU machine the CPU-time ratio is the one to
read, wall-clock there depends on the other load). The logits are written
to a temporary ``.npy`` and compared in the parent (max absolute
difference; labels against the arg-max of MONAI's logits). TF32 is
switched off on CUDA so that the comparison is between float32 results.

Memory (peak of the first run, above what existed before it):
  * CUDA: ``torch.cuda.max_memory_allocated()`` after
    ``reset_peak_memory_stats`` minus the allocated memory before the run;
  * CPU: ``ru_maxrss`` of the subprocess after the run minus its resident
    set size before it (model, input and warm-up excluded).

Example (the issue's setting; needs MONAI):
    python tools/analysis_tools/benchmark_sliding_window.py \
        --size 200 512 512 --sw-batch-size 4 --device cuda
On a small CPU machine, reduce ``--size`` and ``--base-channels``.
"""
import argparse
import json
import multiprocessing as mp
import os
import os.path as osp
import resource
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
METHODS = ('cspr_det', 'monai', 'cspr_det-labels')


def _rss_mib() -> float:
    with open('/proc/self/statm') as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf('SC_PAGE_SIZE') / 2**20


def build_std_unet(base_channels: int, num_classes: int):
    """The StdUNet of ``configs/_base_/models/unet3d_resnet3d18.py``, with
    every width scaled by ``base_channels / 64``."""
    from mmengine.config import Config

    import cspr_det  # noqa: F401
    from cspr_det.registry import MODELS
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'models',
                 'unet3d_resnet3d18.py')).model
    k = base_channels / 64
    widths = tuple(max(1, int(round(c * k))) for c in (64, 64, 128, 256, 512))
    cfg.backbone.base_channels = widths[0]
    cfg.neck.in_channels = widths
    cfg.neck.channels = widths
    cfg.decode_head.in_channels = widths[0]
    cfg.decode_head.channels = max(1, int(round(16 * k)))
    cfg.decode_head.num_classes = num_classes
    return MODELS.build(cfg)


def _worker(spec: dict, queue) -> None:
    try:
        queue.put(_measure(spec))
    except Exception as e:  # reported by the parent
        queue.put(
            dict(method=spec['method'], error=f'{type(e).__name__}: {e}'))


def _measure(spec: dict) -> dict:
    import numpy as np
    import torch
    if spec['threads']:
        torch.set_num_threads(spec['threads'])
    device = torch.device(spec['device'])
    if device.type == 'cuda':
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)
    model = build_std_unet(spec['base_channels'],
                           spec['num_classes']).eval().to(device)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn((1, 1) + tuple(spec['size']), generator=gen).to(device)
    window, stride = tuple(spec['window']), tuple(spec['stride'])
    bs = spec['sw_batch_size']
    predictor = model.encode_decode
    method = spec['method']
    if method == 'monai':
        from monai.inferers import sliding_window_inference as monai_swi
        overlap = [1.0 - s / w for s, w in zip(stride, window)]

        def infer():
            return monai_swi(
                x,
                window,
                bs,
                predictor,
                overlap=overlap,
                mode='constant',
                sw_device=device,
                device=device,
                progress=False)
    else:
        from cspr_det.models.utils.sliding_window import \
            sliding_window_inference
        output = 'labels' if method == 'cspr_det-labels' else 'logits'

        def infer():
            return sliding_window_inference(
                x, predictor, window, stride, sw_batch_size=bs, output=output)

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize()

    times, cpu_times = [], []
    with torch.inference_mode():
        predictor(x[:, :, :window[0], :window[1], :window[2]].repeat(
            bs, 1, 1, 1, 1))  # warm-up, untimed
        sync()
        if device.type == 'cuda':
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        rss0 = _rss_mib()
        for i in range(spec['repeat']):
            t0, c0 = time.perf_counter(), time.process_time()
            out = infer()
            sync()
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
            if i == 0:
                if device.type == 'cuda':
                    peak = (torch.cuda.max_memory_allocated() - base) / 2**20
                else:
                    peak = resource.getrusage(
                        resource.RUSAGE_SELF).ru_maxrss / 1024 - rss0
                result = out.cpu().numpy()
            del out
    np.save(spec['out'], result)
    return dict(
        method=method,
        seconds=min(times),
        all_seconds=times,
        cpu_seconds=min(cpu_times),
        all_cpu_seconds=cpu_times,
        peak_mib=peak,
        windows=_num_windows(spec),
        out=spec['out'])


def _num_windows(spec: dict) -> int:
    from cspr_det.models.utils.sliding_window import window_starts
    n = 1
    for size, w, s in zip(spec['size'], spec['window'], spec['stride']):
        n *= len(window_starts(size, w, s))
    return n


def run(spec: dict) -> dict:
    """Measure one method in a fresh spawned subprocess."""
    ctx = mp.get_context('spawn')
    q = ctx.Queue()
    p = ctx.Process(target=_worker, args=(spec, q))
    p.start()
    p.join()
    if q.empty():
        return dict(
            method=spec['method'], error=f'crashed (exit code {p.exitcode})')
    return q.get()


def max_abs_diff(a_path: str, b_path: str, chunk: int = 8) -> float:
    """Max |a - b| of two ``(N, C, D, H, W)`` arrays, read in depth chunks."""
    import numpy as np
    a = np.load(a_path, mmap_mode='r')
    b = np.load(b_path, mmap_mode='r')
    if a.shape != b.shape:
        raise ValueError(f'output shapes differ: {a.shape} vs {b.shape}')
    worst = 0.0
    for z in range(0, a.shape[2], chunk):
        worst = max(
            worst,
            float(
                np.abs(a[:, :, z:z + chunk].astype(np.float64) -
                       b[:, :, z:z + chunk]).max()))
    return worst


def label_agreement(labels_path: str,
                    logits_path: str,
                    chunk: int = 8) -> float:
    """Fraction of voxels whose label equals the arg-max of the logits."""
    import numpy as np
    labels = np.load(labels_path, mmap_mode='r')
    logits = np.load(logits_path, mmap_mode='r')
    same = 0
    for z in range(0, labels.shape[1], chunk):
        same += int(
            (labels[:, z:z + chunk] == logits[:, :,
                                              z:z + chunk].argmax(1)).sum())
    return same / labels.size


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument(
        '--size',
        type=int,
        nargs=3,
        default=[200, 512, 512],
        metavar=('D', 'H', 'W'),
        help='volume size')
    ap.add_argument('--window', type=int, nargs=3, default=[32, 256, 256])
    ap.add_argument('--stride', type=int, nargs=3, default=[12, 128, 128])
    ap.add_argument('--sw-batch-size', type=int, default=4)
    ap.add_argument('--num-classes', type=int, default=2)
    ap.add_argument(
        '--base-channels',
        type=int,
        default=64,
        help='StdUNet width (64 = the reference; all widths '
        'scale with it)')
    ap.add_argument(
        '--repeat',
        type=int,
        default=1,
        help='timed runs per method (the fastest is reported)')
    ap.add_argument(
        '--methods', nargs='+', default=list(METHODS), choices=METHODS)
    ap.add_argument('--device', default='auto')
    ap.add_argument(
        '--threads',
        type=int,
        default=0,
        help='torch threads (0 = torch default)')
    ap.add_argument('--json', default=None, help='also write results here')
    args = ap.parse_args(argv)
    if any(s < w for s, w in zip(args.size, args.window)):
        ap.error(f'--size {args.size} must be at least the window '
                 f'{args.window} on every axis (MONAI pads smaller volumes, '
                 'cspr_det shrinks the window: they would differ)')
    if any(s > w for s, w in zip(args.stride, args.window)):
        ap.error(f'--stride {args.stride} exceeds --window {args.window}')
    if args.repeat < 1:
        ap.error('--repeat must be >= 1')
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    if 'monai' in args.methods:
        try:
            import monai  # noqa: F401
        except ImportError:
            sys.exit('MONAI is not installed (pip install monai); it is the '
                     'reference of this benchmark. Use --methods cspr_det '
                     'cspr_det-labels to time cspr_det alone.')
    import torch
    device = ('cuda' if torch.cuda.is_available() else 'cpu') \
        if args.device == 'auto' else args.device
    tmp = tempfile.mkdtemp(prefix='bench_sw_')
    results = {}
    try:
        for method in args.methods:
            spec = dict(
                method=method,
                size=args.size,
                window=args.window,
                stride=args.stride,
                sw_batch_size=args.sw_batch_size,
                num_classes=args.num_classes,
                base_channels=args.base_channels,
                repeat=args.repeat,
                device=device,
                threads=args.threads,
                out=osp.join(tmp, f'{method}.npy'))
            results[method] = run(spec)
            print(
                'done:', {
                    k: v
                    for k, v in results[method].items()
                    if k in ('method', 'seconds', 'cpu_seconds', 'peak_mib',
                             'error')
                },
                flush=True)
        ok = {m: r for m, r in results.items() if 'error' not in r}
        summary = dict(
            device=device,
            torch=torch.__version__,
            threads=args.threads or torch.get_num_threads(),
            size=args.size,
            window=args.window,
            stride=args.stride,
            sw_batch_size=args.sw_batch_size,
            num_classes=args.num_classes,
            base_channels=args.base_channels,
            repeat=args.repeat)
        if 'monai' in ok:
            import monai  # noqa: F811 (imported above only when asked for)
            summary['monai'] = monai.__version__
            ref = ok['monai']
            for m in ('cspr_det', 'cspr_det-labels'):
                if m not in ok:
                    continue
                r = ok[m]
                r['time_ratio'] = r['seconds'] / ref['seconds']
                r['cpu_time_ratio'] = r['cpu_seconds'] / ref['cpu_seconds']
                r['memory_ratio'] = r['peak_mib'] / ref['peak_mib']
                if m == 'cspr_det':
                    r['max_abs_diff'] = max_abs_diff(r['out'], ref['out'])
                else:
                    r['label_agreement'] = label_agreement(
                        r['out'], ref['out'])
        _print_table(summary, results)
        summary['results'] = {
            m: {
                k: v
                for k, v in r.items() if k != 'out'
            }
            for m, r in results.items()
        }
        if args.json:
            with open(args.json, 'w', encoding='utf-8') as f:
                json.dump(summary, f, indent=2)
        return summary
    finally:
        for name in os.listdir(tmp):
            os.remove(osp.join(tmp, name))
        os.rmdir(tmp)


def _print_table(summary: dict, results: dict) -> None:
    print(f'device={summary["device"]} torch={summary["torch"]} '
          f'monai={summary.get("monai", "-")} threads={summary["threads"]} '
          f'volume={tuple(summary["size"])} window={tuple(summary["window"])}'
          f' stride={tuple(summary["stride"])} '
          f'sw_batch_size={summary["sw_batch_size"]} '
          f'base_channels={summary["base_channels"]} '
          f'classes={summary["num_classes"]}')
    print(f'{"method":16} {"windows":>7} {"time s":>8} {"x MONAI":>8} '
          f'{"CPU s":>8} {"x MONAI":>8} {"peak MiB":>9} {"x MONAI":>8}  '
          'output check')
    for m, r in results.items():
        if 'error' in r:
            print(f'{m:16} ERROR {r["error"]}')
            continue
        tr = f'{r["time_ratio"]:8.3f}' if 'time_ratio' in r else '       -'
        cr = f'{r["cpu_time_ratio"]:8.3f}' if 'cpu_time_ratio' in r \
            else '       -'
        mr = f'{r["memory_ratio"]:8.3f}' if 'memory_ratio' in r \
            else '       -'
        if 'max_abs_diff' in r:
            check = f'max |diff| = {r["max_abs_diff"]:.2e}'
        elif 'label_agreement' in r:
            check = f'labels = argmax: {100 * r["label_agreement"]:.4f} %'
        else:
            check = 'reference' if m == 'monai' else '-'
        print(f'{m:16} {r["windows"]:>7} {r["seconds"]:8.2f} {tr} '
              f'{r["cpu_seconds"]:8.2f} {cr} {r["peak_mib"]:9.1f} {mr}  '
              f'{check}')


if __name__ == '__main__':
    main()
