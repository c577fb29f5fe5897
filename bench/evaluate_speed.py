"""Seconds per track of a full-length evaluation: separation, uSDR, museval and the fast BSSEval (mss.metrics.bsseval_v4).

For each test track of a MUSDB18-HQ-layout folder: separate it with a shipped model config (random weights, seed 0;
the time does not depend on the weights) through `InferenceEngine`, then score the four estimated stems with uSDR,
with museval (BSSEval v4, 1-s windows, the four stems jointly) and with the torch BSSEval on the same estimates, each
timed as wall-clock and process CPU time (all threads). The per-window agreement of the two BSSEval backends is
reported as max and median |Δ| per metric. `mss.evaluate.bsseval_windows` wraps both backends (museval's NaN rules
applied around each).

    python bench/evaluate_speed.py --root /work/data-eval --tracks 4 --threads 1 --out bench/results/evaluate_speed.json

Data: `mss-make-dataset --n_train 0 --n_valid 0 --n_test 4 --duration 30 --seed 7 --root /work/data-eval`.
"""
import argparse, json, os, platform, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
import torch
from mss.data import TestDataset
from mss.evaluate import bsseval_windows, BSS_METRICS
from mss.inference import InferenceEngine
from mss.metrics import usdr

def timed(f):
    w0, c0 = time.perf_counter(), time.process_time()
    out = f()
    return out, time.perf_counter() - w0, time.process_time() - c0

def main(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    engine = InferenceEngine.from_pretrained(ROOT / 'mss' / 'assets' / 'configs' / f'{a.config}.yaml', device='cpu')
    stems = list(engine.model.stems)
    ds = TestDataset(a.root, stems)
    rows, deltas = [], {m: [] for m in BSS_METRICS}
    for i in range(min(a.tracks, len(ds))):
        item = ds[i]
        L = item['mixture'].shape[-1]
        out, sep_w, sep_c = timed(lambda: engine.run(item['mixture']).outputs)
        refs, ests = {s: item['sources'][s] for s in stems}, {s: out[s] for s in stems}
        _, us_w, us_c = timed(lambda: [float(usdr(refs[s], ests[s])) for s in stems])
        ref, mu_w, mu_c = timed(lambda: bsseval_windows(refs, ests, 44100, backend='museval'))
        fast, to_w, to_c = timed(lambda: bsseval_windows(refs, ests, 44100, backend='torch'))
        for m in BSS_METRICS:
            assert (np.isnan(ref[m]) == np.isnan(fast[m])).all(), f"{item['name']}: NaN patterns differ for {m}"
            ok = ~np.isnan(ref[m]); deltas[m] += list(np.abs(ref[m][ok] - fast[m][ok]))
        rows.append({'track': item['name'], 'seconds': L / 44100, 'separation': [sep_w, sep_c], 'usdr': [us_w, us_c],
                     'museval': [mu_w, mu_c], 'torch_bsseval': [to_w, to_c], 'load_avg': os.getloadavg()[0]})
        print(json.dumps(rows[-1]), file=sys.stderr)
    mean = lambda k, j: float(np.mean([r[k][j] for r in rows]))
    res = {'config': a.config, 'threads': a.threads, 'tracks': len(rows), 'torch': torch.__version__, 'python': platform.python_version(),
           'per_track_mean': {k: {'wall_s': mean(k, 0), 'cpu_s': mean(k, 1)} for k in ('separation', 'usdr', 'museval', 'torch_bsseval')},
           'speedup_torch_vs_museval': {'wall': mean('museval', 0) / mean('torch_bsseval', 0), 'cpu': mean('museval', 1) / mean('torch_bsseval', 1)},
           'agreement_db': {m: {'max': float(np.max(v)), 'median': float(np.median(v)), 'windows': len(v)} for m, v in deltas.items()},
           'rows': rows}
    if a.out: Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=1) + '\n')
    print(json.dumps({k: v for k, v in res.items() if k != 'rows'}, indent=1))

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--root', default='/work/data-eval'); p.add_argument('--tracks', type=int, default=4)
    p.add_argument('--config', default='scnet_small'); p.add_argument('--threads', type=int, default=1)
    p.add_argument('--out', default=None)
    main(p.parse_args())
