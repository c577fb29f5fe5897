"""Data benchmarks for mss (issue 3): generation cost, loader throughput, difficulty of the generated test set.

    python bench/data.py gen --root /tmp/mss_bench20            # 14 train (2 valid) + 6 test, 30 s each
    python bench/data.py loader --root /tmp/mss_bench20         # examples/s, 6-s chunks, 0 and 2 workers
    python bench/data.py difficulty --root /tmp/mss_bench20     # mixture / IRM bounds, museval + uSDR
Run on a shared 2-core machine; CPU times are the reliable figure (wall times depend on the load).
"""
import argparse, json, os, resource, subprocess, sys, time
import numpy as np

def _cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime

def gen(a):
    import torch; torch.set_num_threads(1)
    from mss.synth import make_dataset
    t0, (s0, c0) = time.time(), _cpu()
    make_dataset(a.root, a.n_train, a.n_test, a.n_valid, a.duration, a.seed, a.vocals, overwrite=True, progress=False)
    wall, (s1, c1) = time.time() - t0, _cpu()
    n = a.n_train + a.n_test
    du = int(subprocess.run(['du', '-sb', a.root], capture_output=True, text=True).stdout.split()[0])
    res = {'tracks': n, 'duration_s': a.duration, 'wall_s': round(wall, 1), 'cpu_python_s': round(s1 - s0, 1),
           'cpu_children_s': round(c1 - c0, 1), 'cpu_per_track_s': round((s1 - s0 + c1 - c0) / n, 2),
           'wall_per_track_s': round(wall / n, 2), 'disk_bytes': du, 'disk_per_track_MB': round(du / n / 1e6, 2),
           'load_avg': os.getloadavg()}
    print(json.dumps(res))

def loader(a):
    import torch; torch.set_num_threads(1)
    from torch.utils.data import DataLoader
    from mss.data import TrainDataset, collate_fn
    res = {}
    for workers in (0, 2):
        ds = TrainDataset(a.root, chunk_seconds=6.0, epoch_length=a.n, seed=0)
        dl = DataLoader(ds, batch_size=a.batch_size, num_workers=workers, collate_fn=collate_fn)
        it = iter(dl); next(it)  # warm-up (worker start, file headers)
        t0, k = time.time(), a.batch_size
        for b in it: k += b.mixture.shape[0]
        dt = time.time() - t0
        res[f'workers={workers}'] = {'examples': k - a.batch_size, 'seconds': round(dt, 2),
                                     'examples_per_s': round((k - a.batch_size) / dt, 1)}
    res['load_avg'] = os.getloadavg()
    print(json.dumps(res))

def difficulty(a):
    import torch; torch.set_num_threads(1)
    from mss.data import TestDataset
    from mss.metrics import usdr, csdr
    ds = TestDataset(a.root)
    stems = ds.stems
    rows = {'mixture': {s: {'csdr': [], 'usdr': []} for s in stems}, 'irm': {s: {'csdr': [], 'usdr': []} for s in stems}}
    t0 = time.time()
    for k in range(len(ds)):
        it = ds[k]
        mix, src = it['mixture'], it['sources']
        # ideal ratio mask (power-ratio Wiener mask), 4096-point STFT, 75 % overlap, per channel
        win = torch.hann_window(4096, dtype=torch.float64)
        S = {s: torch.stft(src[s].double(), 4096, 1024, window=win, return_complex=True) for s in stems}
        M = torch.stft(mix.double(), 4096, 1024, window=win, return_complex=True)
        P = sum(S[s].abs() ** 2 for s in stems) + 1e-12
        irm = {s: torch.istft(M * (S[s].abs() ** 2 / P), 4096, 1024, window=win, length=mix.shape[-1]).float() for s in stems}
        for kind, est in (('mixture', {s: mix for s in stems}), ('irm', irm)):
            cs = csdr(src, est)
            for s in stems:
                rows[kind][s]['usdr'].append(float(usdr(src[s], est[s])))
                rows[kind][s]['csdr'].append(float(cs[s]))
        print(it['name'], {kind: {s: round(rows[kind][s]['csdr'][-1], 2) for s in stems} for kind in rows}, file=sys.stderr)
    out = {kind: {s: {'csdr_median_of_track_medians': round(float(np.median(v['csdr'])), 2),
                      'usdr_mean': round(float(np.mean(v['usdr'])), 2)} for s, v in r.items()} for kind, r in rows.items()}
    out['tracks'] = len(ds); out['seconds'] = round(time.time() - t0, 1)
    print(json.dumps(out))

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('what', choices=['gen', 'loader', 'difficulty'])
    p.add_argument('--root', default='/tmp/mss_bench20')
    p.add_argument('--n-train', type=int, default=14); p.add_argument('--n-test', type=int, default=6)
    p.add_argument('--n-valid', type=int, default=2); p.add_argument('--duration', type=float, default=30.0)
    p.add_argument('--seed', type=int, default=0); p.add_argument('--vocals', default='sung')
    p.add_argument('--n', type=int, default=64, help='loader: examples per run')
    p.add_argument('--batch-size', type=int, default=8)
    a = p.parse_args()
    {'gen': gen, 'loader': loader, 'difficulty': difficulty}[a.what](a)
