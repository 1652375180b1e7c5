"""Forward+backward cost of MP3D-63, P3D-63 and a 2D ResNet-50.

Every configuration runs in a fresh subprocess (so peak memory is measured
per model): build the backbone in train mode, feed a random batch, and time
``forward -> sum of all outputs -> backward`` over ``--iters`` iterations
after ``--warmup`` untimed ones.

Memory:
  * CUDA: ``torch.cuda.max_memory_allocated()`` (peak of tensors allocated
    by PyTorch, after ``reset_peak_memory_stats`` once the model and input
    exist) plus the model/input memory before the loop.
  * CPU: peak resident set size of the subprocess
    (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) and its growth over the
    RSS measured after building the model and input (activations, gradients
    and allocator overhead of the training step).

Example (the defaults are the MP3D detection setting):
    python tools/analysis_tools/benchmark_backbones.py --size 512 \
        --batch 2 --slices 9 --sweep 3 9 27
"""
import argparse
import json
import multiprocessing as mp
import resource
import time


def _rss_mib() -> float:
    with open('/proc/self/statm') as f:
        pages = int(f.read().split()[1])
    import os
    return pages * os.sysconf('SC_PAGE_SIZE') / 2**20


def _count_macs(model, x) -> int:
    """Multiply-accumulates of one forward pass of the conv/linear layers
    (output elements x kernel volume x input channels / groups), counted
    with forward hooks in eval mode. Independent of machine load."""
    import torch
    total = [0]

    def hook(mod, inp, out):
        if isinstance(mod, torch.nn.Linear):
            total[0] += out.numel() * mod.in_features
        else:
            k = 1
            for v in mod.kernel_size:
                k *= v
            total[0] += out.numel() * k * mod.in_channels // mod.groups

    handles = [
        m.register_forward_hook(hook) for m in model.modules()
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear))
    ]
    model.eval()
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total[0]


def _run_one(spec: dict, queue) -> None:
    try:
        import torch

        import cspr_det  # noqa: F401
        from cspr_det.registry import MODELS
        if spec['threads']:
            torch.set_num_threads(spec['threads'])
        device = torch.device(spec['device'])
        torch.manual_seed(0)
        n, s, size = spec['batch'], spec['slices'], spec['size']
        if spec['model'] == 'r50':
            cfg = dict(
                type='mmdet.ResNet',
                depth=50,
                in_channels=3,
                base_channels=spec['base_channels'])
            x = torch.randn(n, 3, size, size, device=device)
        else:
            cfg = dict(
                type='cspr_det.MP3DResNet'
                if spec['model'] == 'mp3d63' else 'cspr_det.P3DResNet',
                depth=63,
                num_slices=s,
                base_channels=spec['base_channels'])
            x = torch.randn(n, s, size, size, device=device)
        model = MODELS.build(cfg).to(device)
        params = sum(p.numel() for p in model.parameters())
        macs = _count_macs(model, x)
        model.train()
        if device.type == 'cuda':
            torch.cuda.synchronize()
            base_mem = torch.cuda.memory_allocated() / 2**20
            torch.cuda.reset_peak_memory_stats()
        rss0 = _rss_mib()

        def step():
            model.zero_grad(set_to_none=True)
            outs = model(x)
            sum(o.float().sum() for o in outs).backward()

        for _ in range(spec['warmup']):
            step()
        if device.type == 'cuda':
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(spec['iters']):
            step()
        if device.type == 'cuda':
            torch.cuda.synchronize()
        sec = (time.perf_counter() - t0) / spec['iters']
        res = dict(
            spec, sec_per_iter=sec, params_m=params / 1e6, gmacs=macs / 1e9)
        if device.type == 'cuda':
            res['peak_mem_mib'] = torch.cuda.max_memory_allocated() / 2**20
            res['model_input_mib'] = base_mem
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            res['peak_mem_mib'] = peak
            res['step_mem_mib'] = peak - rss0
        queue.put(res)
    except Exception as e:  # reported by the parent
        queue.put(dict(spec, error=f'{type(e).__name__}: {e}'))


def run(spec: dict) -> dict:
    ctx = mp.get_context('spawn')
    q = ctx.Queue()
    p = ctx.Process(target=_run_one, args=(spec, q))
    p.start()
    p.join()
    res = q.get() if not q.empty() else dict(
        spec, error=f'crashed (exit code {p.exitcode})')
    print(
        'done:', {
            k: res.get(k)
            for k in ('model', 'slices', 'size', 'sec_per_iter',
                      'peak_mem_mib', 'error') if k in res
        },
        flush=True)
    return res


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--size', type=int, default=512)
    ap.add_argument('--batch', type=int, default=2)
    ap.add_argument('--slices', type=int, default=9)
    ap.add_argument(
        '--sweep',
        type=int,
        nargs='*',
        default=[3, 9, 27],
        help='slice counts for the growth table (MP3D-63, P3D-63)')
    ap.add_argument(
        '--sweep-size',
        type=int,
        default=None,
        help='image size of the sweep (default --size)')
    ap.add_argument('--iters', type=int, default=3)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--base-channels', type=int, default=64)
    ap.add_argument(
        '--threads',
        type=int,
        default=0,
        help='torch threads (0 = torch default)')
    ap.add_argument('--device', default='auto')
    ap.add_argument('--json', default=None, help='also write results here')
    args = ap.parse_args(argv)
    import torch
    device = ('cuda' if torch.cuda.is_available() else 'cpu') \
        if args.device == 'auto' else args.device
    common = dict(
        batch=args.batch,
        iters=args.iters,
        warmup=args.warmup,
        base_channels=args.base_channels,
        threads=args.threads,
        device=device)
    main_runs = [
        run(dict(common, model=m, slices=args.slices, size=args.size))
        for m in ('r50', 'mp3d63', 'p3d63')
    ]
    sweep_size = args.sweep_size or args.size
    sweep = [
        run(dict(common, model=m, slices=s, size=sweep_size))
        for m in ('mp3d63', 'p3d63') for s in args.sweep
    ]
    ref = main_runs[0]
    print(f'device={device} torch={torch.__version__} '
          f'threads={args.threads or torch.get_num_threads()} '
          f'batch={args.batch} iters={args.iters} warmup={args.warmup}')
    hdr = (f'{"model":8} {"S":>3} {"size":>5} {"GMACs":>8} {"x R50":>6} '
           f'{"s/iter":>8} {"x R50":>6} '
           f'{"peak MiB":>9} {"x R50*":>6} {"step MiB":>9}')
    print(hdr)

    def line(r):
        if 'error' in r:
            return f'{r["model"]:8} {r["slices"]:>3} {r["size"]:>5} ' \
                   f'ERROR {r["error"]}'
        same = 'error' not in ref and r['size'] == ref['size']
        tr = f'{r["sec_per_iter"] / ref["sec_per_iter"]:6.2f}' if same \
            else '     -'
        gr = f'{r["gmacs"] / ref["gmacs"]:6.2f}' if same else '     -'
        # CPU: compare the growth during the training step (the process
        # baseline of imported libraries is the same for every model)
        key = 'step_mem_mib' if 'step_mem_mib' in r else 'peak_mem_mib'
        mr = f'{r[key] / ref[key]:6.2f}' if same else '     -'
        step = r.get('step_mem_mib', r.get('peak_mem_mib'))
        s = 3 if r['model'] == 'r50' else r['slices']
        return (f'{r["model"]:8} {s:>3} {r["size"]:>5} '
                f'{r["gmacs"]:8.1f} {gr} '
                f'{r["sec_per_iter"]:8.3f} {tr} {r["peak_mem_mib"]:9.0f} '
                f'{mr} {step:9.0f}')

    for r in main_runs:
        print(line(r))
    print('GMACs: forward pass, all images of the batch')
    print('* memory ratio: peak allocated (CUDA) or step growth of the '
          'resident set (CPU)')
    print('-- growth with the number of slices --')
    for r in sweep:
        print(line(r))
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(dict(main=main_runs, sweep=sweep), f, indent=1)


if __name__ == '__main__':
    main()
