"""BSSEval v4: `mss.metrics.bsseval_v4` (PyTorch, float64) against museval 0.4.1, speed and agreement.

    python bench/bsseval.py --root /work/data-bss/gen --out bench/results/bsseval.json

On every test track of a generated dataset (`mss-make-dataset`, 4 stereo stems at 44.1 kHz) the estimates are the
ideal-ratio-mask separations (a realistic separator output, as in `bench/data.py difficulty`). Per track:
museval.evaluate(mode='v4', 1-s windows) and `bsseval_v4` (CPU, `--threads` threads; the same number of BLAS threads
for museval), both timed in wall and CPU seconds; `bsseval_v4(only_sdr=True)`; and, to show how far museval's own
ISR/SIR can be trusted on band-limited music (spec training.md §1.7), museval again with the references scaled by
1 + 1e-12 (`--no-perturb` skips it).
"""
import argparse, importlib.metadata, json, os, sys, time

def _args():
    p = argparse.ArgumentParser()
    p.add_argument('--root', help='generated dataset root (mss-make-dataset)')
    p.add_argument('--out', default='bench/results/bsseval.json')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--n', type=int, default=0, help='first n test tracks (0: all)')
    p.add_argument('--no-perturb', action='store_true')
    p.add_argument('--report', help='print the markdown tables of an earlier JSON result and exit')
    return p.parse_args()

A = _args()
os.environ['OMP_NUM_THREADS'] = os.environ['OPENBLAS_NUM_THREADS'] = os.environ['MKL_NUM_THREADS'] = str(A.threads)
# The shared 2-core machine usually runs other jobs (load 5-7): with OpenMP's default active waiting, torch's threads
# spin at every barrier while the other thread is descheduled (measured: 2 threads took 4-6 CPU-s per track instead of
# 2). Passive waiting is the standard setting for an oversubscribed machine; it does not change single-thread work.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import numpy as np, scipy, torch, museval  # after the thread settings
from mss.data import TestDataset
from mss.metrics import bsseval_v4, _museval_v4, _track_median
torch.set_num_threads(A.threads)
METRICS = ('SDR', 'ISR', 'SIR', 'SAR')

def timed(f):
    t0, c0 = time.perf_counter(), time.process_time()
    r = f()
    return r, time.perf_counter() - t0, time.process_time() - c0

def irm(mix, src, stems):
    "Power-ratio Wiener mask estimates, 4096-point Hann STFT, hop 1024, per channel (float64)."
    win = torch.hann_window(4096, dtype=torch.float64)
    S = {s: torch.stft(src[s].double(), 4096, 1024, window=win, return_complex=True) for s in stems}
    M = torch.stft(mix.double(), 4096, 1024, window=win, return_complex=True)
    P = sum(S[s].abs() ** 2 for s in stems) + 1e-12
    return {s: torch.istft(M * (S[s].abs() ** 2 / P), 4096, 1024, window=win, length=mix.shape[-1]) for s in stems}

def stats(a, b):
    "max and median |a - b| over entries finite in both, and the count of entries NaN in one only."
    fin = a.isfinite() & b.isfinite()
    d = (a - b)[fin].abs()
    return {'max': float(d.max()) if d.numel() else None, 'median': float(d.median()) if d.numel() else None,
            'n': int(fin.sum()), 'nan_mismatch': int((a.isnan() != b.isnan()).sum())}

def main():
    ds = TestDataset(A.root); stems = list(ds.stems)
    n = len(ds) if A.n == 0 else min(A.n, len(ds))
    tracks, frames = [], {k: {m: [] for m in METRICS} for k in ('torch', 'museval', 'museval_perturbed', 'torch_perturbed')}
    bsseval_v4(torch.randn(2, 2, 44100), torch.randn(2, 2, 44100))  # warm-up (allocator, FFT plans)
    for i in range(n):
        it = ds[i]
        ref = torch.stack([it['sources'][s] for s in stems]).double()
        est = torch.stack(list(irm(it['mixture'], it['sources'], stems).values()))
        ours, tw, tc = timed(lambda: bsseval_v4(ref, est))
        _, sw, sc = timed(lambda: bsseval_v4(ref, est, only_sdr=True))
        torch.set_num_threads(1); _, ow, oc = timed(lambda: bsseval_v4(ref, est)); torch.set_num_threads(A.threads)
        theirs, mw, mc = timed(lambda: _museval_v4(ref, est))
        row = {'name': it['name'], 'seconds': ref.shape[-1] / 44100, 'windows': ours['SDR'].shape[1],
               'torch_wall_s': tw, 'torch_cpu_s': tc, 'torch_sdr_only_wall_s': sw, 'torch_sdr_only_cpu_s': sc,
               'torch_1thread_wall_s': ow, 'torch_1thread_cpu_s': oc,
               'museval_wall_s': mw, 'museval_cpu_s': mc, 'load_avg': os.getloadavg()[0]}
        for m in METRICS: frames['torch'][m].append(ours[m]); frames['museval'][m].append(theirs[m])
        if not A.no_perturb:
            pert = ref * (1 + 1e-12)
            p_theirs, pw, pc = timed(lambda: _museval_v4(pert, est))
            p_ours = bsseval_v4(pert, est)
            row.update(museval_perturbed_wall_s=pw, museval_perturbed_cpu_s=pc)
            for m in METRICS: frames['museval_perturbed'][m].append(p_theirs[m]); frames['torch_perturbed'][m].append(p_ours[m])
        tracks.append(row)
        print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}), file=sys.stderr, flush=True)

    def compare(x, y):
        "Agreement of two frame sets: per metric and stem over all windows, and on the per-track medians."
        out = {}
        for m in METRICS:
            a, b = torch.cat(frames[x][m], 1), torch.cat(frames[y][m], 1)  # (stems, all windows)
            ma = torch.stack([_track_median(f) for f in frames[x][m]], 1)  # (stems, tracks)
            mb = torch.stack([_track_median(f) for f in frames[y][m]], 1)
            out[m] = {'windows': {s: stats(a[j], b[j]) for j, s in enumerate(stems)} | {'all': stats(a, b)},
                      'track_medians': {s: stats(ma[j], mb[j]) for j, s in enumerate(stems)} | {'all': stats(ma, mb)}}
        return out

    tot = {k: sum(r[k] for r in tracks) for k in tracks[0] if k.endswith('_s') and k != 'seconds'}
    res = {'command': 'python bench/bsseval.py ' + ' '.join(sys.argv[1:]), 'threads': A.threads,
           'omp_wait_policy': os.environ['OMP_WAIT_POLICY'], 'date': time.strftime('%Y-%m-%d %H:%M'),
           'versions': {'torch': torch.__version__, 'museval': importlib.metadata.version('museval'),
                        'numpy': np.__version__, 'scipy': scipy.__version__},
           'stems': stems, 'tracks': tracks, 'totals': tot,
           'speedup_wall': tot['museval_wall_s'] / tot['torch_wall_s'], 'speedup_cpu': tot['museval_cpu_s'] / tot['torch_cpu_s'],
           'speedup_sdr_only_wall': tot['museval_wall_s'] / tot['torch_sdr_only_wall_s'],
           'speedup_sdr_only_cpu': tot['museval_cpu_s'] / tot['torch_sdr_only_cpu_s'],
           'speedup_1thread_cpu': tot['museval_cpu_s'] / tot['torch_1thread_cpu_s'],
           'agreement_torch_vs_museval': compare('torch', 'museval')}
    if not A.no_perturb:
        res['museval_vs_museval_perturbed'] = compare('museval', 'museval_perturbed')
        res['torch_vs_torch_perturbed'] = compare('torch', 'torch_perturbed')
        res['torch_vs_museval_perturbed'] = compare('torch', 'museval_perturbed')
    res['per_track_medians'] = {k: {m: torch.stack([_track_median(f) for f in frames[k][m]], 1).tolist() for m in METRICS}
                                for k in frames if frames[k]['SDR']}
    os.makedirs(os.path.dirname(A.out) or '.', exist_ok=True)
    with open(A.out, 'w') as f: json.dump(res, f, indent=1)
    print(json.dumps({k: res[k] for k in res if k == 'totals' or k.startswith('speedup')}, indent=1))
    markdown(res)

def fmt(x): return '—' if x is None else ('0' if x == 0 else f'{x:.1e}')

def markdown(res):
    "The tables of bench/RESULTS.md from a result JSON."
    t, n = res['totals'], len(res['tracks'])
    print('| per 30-s track (mean of %d) | wall s | CPU s | museval ÷ torch (wall / CPU) |' % n)
    print('|---|---|---|---|')
    print(f"| museval 0.4.1 `evaluate(mode='v4')` | {t['museval_wall_s'] / n:.2f} | {t['museval_cpu_s'] / n:.2f} | 1 |")
    for k, name in (('torch', f"`bsseval_v4`, {res['threads']} threads"), ('torch_1thread', '`bsseval_v4`, 1 thread'),
                    ('torch_sdr_only', f"`bsseval_v4(only_sdr=True)`, {res['threads']} threads")):
        print(f"| {name} | {t[k + '_wall_s'] / n:.2f} | {t[k + '_cpu_s'] / n:.2f} | "
              f"{t['museval_wall_s'] / t[k + '_wall_s']:.1f}× / {t['museval_cpu_s'] / t[k + '_cpu_s']:.1f}× |")
    print()
    for key, title in (('agreement_torch_vs_museval', '|Δ| torch − museval (dB)'),
                       ('museval_vs_museval_perturbed', '|Δ| museval(refs) − museval(refs·(1+1e-12)) (dB)')):
        if key not in res: continue
        a = res[key]; stems = [s for s in a['SDR']['windows'] if s != 'all']
        print(f'{title}: max / median over all windows, then max over the per-track medians')
        print()
        print('| metric | ' + ' | '.join(stems) + ' | all windows | track medians, max |')
        print('|---|' + '---|' * (len(stems) + 2))
        for m, v in a.items():
            w = v['windows']
            cells = [f"{fmt(w[s]['max'])} / {fmt(w[s]['median'])}" for s in stems]
            print(f"| {m} | " + ' | '.join(cells) + f" | {fmt(w['all']['max'])} / {fmt(w['all']['median'])} (n={w['all']['n']}, NaN mismatches {w['all']['nan_mismatch']}) | {fmt(v['track_medians']['all']['max'])} |")
        print()

if A.report: markdown(json.load(open(A.report)))
else: main()
