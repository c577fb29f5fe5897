"""Overlap-add benchmark: mss vs demucs 4.1.0 `apply_model` vs splifft 0.0.9 (`generate_chunks` + `stitch_chunks`).

Protocol: seeded randn·0.1 stereo input at 44.1 kHz, 4 stems, 11 s chunks, overlap 0.5 and
0.75, batch 4 (demucs runs one chunk per call; mss also runs at batch 1 for a like-for-like row), 2 torch threads,
one fresh process per run, peers interleaved within each repetition, median of 3. Memory: peak RSS during the call −
RSS just before it (`after_delta_mib`, also recorded: RSS right after the call − RSS just before it). Overhead: wall −
the time spent inside the model's forward calls (chunking, copying, stitching, allocating the outputs).

    bench/.venv-peers/bin/python bench/ola.py --reps 3 --out bench/out/ola.jsonl   # all points, then the tables
    bench/.venv-peers/bin/python bench/ola.py --table --out bench/results/ola_issue16.jsonl   # tables from saved lines
    bench/.venv-peers/bin/python bench/ola.py --point '{"peer": "mss", ...}'      # one point (used internally)

The peers live in a bench-only environment: `python -m venv --system-site-packages bench/.venv-peers &&
bench/.venv-peers/bin/pip install demucs==4.1.0 "splifft[config,inference]==0.0.9" psutil`.
"""
import argparse, json, resource, statistics, subprocess, sys, time
from pathlib import Path

SR, CHUNK, STEMS = 44100, 485100, 4

def rss_mib():
    import psutil
    return psutil.Process().memory_info().rss / 2**20

def peak_mib(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def make_models(kind):
    import torch
    from torch import nn
    class Identity(nn.Module):
        def forward(self, x): return x[:, None].expand(-1, STEMS, -1, -1).clone()
    class Conv(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.c1, self.c2 = nn.Conv1d(2, 16, 15, padding=7), nn.Conv1d(16, 8, 15, padding=7)
        def forward(self, x): return self.c2(torch.tanh(self.c1(x))).reshape(x.shape[0], STEMS, 2, -1)
    return Identity() if kind == 'identity' else Conv()

class Counter:
    "Wraps a (B, C, L) -> (B, S, C, L) model; counts calls and samples fed, and the time spent inside the model."
    def __init__(self, m): self.m, self.calls, self.fed, self.model_s = m, 0, 0, 0.0
    def __call__(self, x):
        self.calls += 1; self.fed += x.shape[0] * x.shape[-1]
        t0 = time.perf_counter(); y = self.m(x); self.model_s += time.perf_counter() - t0
        return y

def run_point(p):
    import torch
    torch.set_num_threads(2)
    T = int(p['seconds'] * SR)
    hop = int(CHUNK * (1 - p['overlap']))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, T, generator=g) * 0.1
    net = make_models(p['model']).eval()
    cnt = Counter(net)
    names = ['vocals', 'drums', 'bass', 'other']
    if p['peer'] == 'mss':
        from mss.ola import OverlapAddProcessor
        class Dict(torch.nn.Module):
            def forward(self, b):
                y = cnt(b)
                return {n: y[:, i] for i, n in enumerate(names)}
        proc = OverlapAddProcessor(CHUNK / SR, hop / SR, SR)
        model = Dict()
        def call(): return proc.process(model, x, batch_size=p['batch'])
    elif p['peer'] == 'demucs':
        from demucs.apply import apply_model
        class DM(torch.nn.Module):
            sources, samplerate, audio_channels, segment = names, SR, 2, CHUNK / SR
            def forward(self, b): return cnt(b)
        model = DM()
        def call(): return apply_model(model, x[None], shifts=0, split=True, overlap=p['overlap'], segment=CHUNK / SR, progress=False)[0]
    elif p['peer'] == 'splifft':
        from splifft.core import generate_chunks, stitch_chunks
        window = torch.hann_window(CHUNK)
        def call():
            outs = [cnt(b) for b in generate_chunks(x, CHUNK, hop, p['batch'])]
            return stitch_chunks(outs, STEMS, CHUNK, hop, T, window=window)
    else: raise ValueError(p['peer'])
    import gc; gc.collect()
    before = rss_mib()
    t0 = time.perf_counter()
    with torch.inference_mode(): y = call()
    wall = time.perf_counter() - t0
    peak, after = peak_mib() - before, rss_mib() - before
    if isinstance(y, dict): y = torch.stack(list(y.values()))   # after the measurement
    res = dict(p, wall=wall, peak_delta_mib=peak, after_delta_mib=after, output_mib=STEMS * 2 * T * 4 / 2**20, calls=cnt.calls, fed_ratio=cnt.fed / T, model_s=cnt.model_s)
    if p.get('errors'):
        with torch.inference_mode():
            if p['model'] == 'identity':
                res['identity_max_err'] = float((y - x[None]).abs().max())
            else:
                ref = net(x[None])[0]
                trim = SR
                res['conv_interior_err'] = float((y[..., trim:-trim] - ref[..., trim:-trim]).abs().max())
                res['conv_whole_snr_db'] = float(10 * torch.log10(ref.pow(2).sum() / (y - ref).pow(2).sum()))
    return res

def drive(args):
    out = Path(args.out); out.parent.mkdir(parents=True, exist_ok=True)
    points = []
    for model in ('identity', 'conv'):
        for ov in (0.5, 0.75):
            group = [dict(peer=peer, model=model, overlap=ov, seconds=180, batch=4) for peer in args.peers]
            if 'mss' in args.peers: group.append(dict(peer='mss', model=model, overlap=ov, seconds=180, batch=1))  # demucs' batching
            points.append(group)
    for secs in (60, 180, 600):
        group = [dict(peer=peer, model='identity', overlap=0.75, seconds=secs, batch=4, tag='scaling') for peer in args.peers]
        if 'mss' in args.peers: group.append(dict(peer='mss', model='identity', overlap=0.75, seconds=secs, batch=1, tag='scaling'))
        points.append(group)
    with out.open('a') as f:
        for group in points:
            for rep in range(args.reps):
                for p in group:   # peers interleaved within a repetition
                    q = dict(p, rep=rep, errors=(rep == 0 and p.get('tag') != 'scaling'))
                    r = subprocess.run([sys.executable, __file__, '--point', json.dumps(q)], capture_output=True, text=True)
                    if r.returncode: print('FAILED', q, r.stderr[-1500:], file=sys.stderr); continue
                    line = r.stdout.strip().splitlines()[-1]
                    f.write(line + '\n'); f.flush()
                    print(line, flush=True)

def table(path):
    rows = [json.loads(l) for l in Path(path).read_text().splitlines() if l.strip()]
    key = lambda r: (r['peer'] if r['batch'] == 4 else f"{r['peer']} (batch {r['batch']})", r['model'], r['overlap'], r['seconds'], r.get('tag', ''))
    groups = {}
    for r in rows: groups.setdefault(key(r), []).append(r)
    med = {k: dict(v[0], wall=statistics.median(x['wall'] for x in v), overhead=statistics.median(x['wall'] - x.get('model_s', 0) for x in v), peak_delta_mib=statistics.median(x['peak_delta_mib'] for x in v), n=len(v),
                   **{m: next((x[m] for x in v if m in x), None) for m in ('identity_max_err', 'conv_interior_err', 'conv_whole_snr_db')})
           for k, v in groups.items()}
    lines = ['| model | overlap | peer | wall (s) | ÷ demucs | overhead (s) | ÷ demucs | peak ΔRSS (MiB) | ÷ output | identity max err | conv interior err | fed ÷ T | calls | runs |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for (peer, model, ov, secs, tag), r in sorted(med.items(), key=lambda kv: (kv[0][4], kv[0][1] != 'identity', kv[0][2], kv[0][0])):
        if tag: continue
        d = med.get(('demucs', model, ov, secs, tag))
        ratio = f"{r['wall'] / d['wall']:.2f}" if d else '—'
        oratio = f"{r['overhead'] / d['overhead']:.2f}" if d else '—'
        ie = f"{r['identity_max_err']:.2e}" if r['identity_max_err'] is not None else ''
        ce = f"{r['conv_interior_err']:.2e}" if r['conv_interior_err'] is not None else ''
        lines.append(f"| {model} | {ov} | {peer} | {r['wall']:.3f} | {ratio} | {r['overhead']:.3f} | {oratio} | {r['peak_delta_mib']:.0f} | {r['peak_delta_mib'] / r['output_mib']:.2f} | {ie} | {ce} | {r['fed_ratio']:.3f} | {r['calls']} | {r['n']} |")
    lines += ['', '| peer | 60 s (output 81 MiB) | 180 s (242 MiB) | 600 s (808 MiB) |', '|---|---|---|---|']
    for peer in sorted({k[0] for k in med if k[4] == 'scaling'}):
        cells = []
        for secs in (60, 180, 600):
            r = med.get((peer, 'identity', 0.75, secs, 'scaling'))
            cells.append(f"{r['peak_delta_mib']:.0f} MiB ({r['peak_delta_mib'] / r['output_mib']:.2f}×)" if r else '—')
        lines.append(f"| {peer} | " + ' | '.join(cells) + ' |')
    return '\n'.join(lines)

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--point'); ap.add_argument('--out', default='bench/out/ola.jsonl'); ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--peers', nargs='+', default=['mss', 'demucs', 'splifft']); ap.add_argument('--table', action='store_true')
    a = ap.parse_args()
    if a.point: print(json.dumps(run_point(json.loads(a.point))))
    elif a.table: print(table(a.out))
    else: drive(a); print(table(a.out))
