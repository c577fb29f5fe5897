"""The CPU default (issue 16 §2): `InferenceEngine`'s `backend='auto'` against `backend='eager'`, end to end, cold and warm.

Every row separates seeded stereo noise (0.1 × N(0, 1), seed 0, 44.1 kHz) of `--seconds` lengths with
`InferenceEngine.run` on the CPU, `--threads` torch threads, fp32, the model's own chunk and hop:
- `shipped`: the separator shipped with mss (masked SCNet, 1.2 M parameters, 2 s chunks, hop 1 s), at its config's
  batch size (4) and at batch 1;
- `scnet_small`: SCNet small (MSST's `config_musdb18_scnet.yaml` sizes, random weights, seed 0; 11 s chunks, hop
  5.5 s) at batch 1, the fastest batch on this CPU (RESULTS §14).

Backends (rows):
- `eager`: `backend='eager'`, PyTorch eager;
- `auto cold`: `backend='auto'`, a fresh engine for every timed run, so the trace (made on the first batch, checked
  against eager there) is inside the timed run: what one `mss-separate --backend auto` call on one song costs (runs
  of fewer than `AUTO_MIN_CALLS` calls stay eager: 100 today, 24 when RESULTS §17 was measured);
- `auto warm`: `backend='auto'`, one engine whose trace was made in the warm-up: what every later song of a folder, an
  evaluation or `mss-serve` costs.

Procedure: one untimed warm-up run per row (it also gives the stems, compared with eager's: max |error|); then
`--repeats` rounds, every row once per round, interleaved, so load drift hits all rows alike. Reported: the median
(and min) process CPU time over all threads and the wall time, per second of audio, and each row's CPU time relative to
`eager` at the same model, batch and length, per round (the spread shows the noise). Runs of fewer than
`AUTO_MIN_CALLS` model calls stay eager under `auto` by design (the `BackendSelected` event says which ran).

The full run (about 30 minutes on the project's 2-core box, quiet):

    OMP_NUM_THREADS=2 python bench/cpu_default.py --threads 2 --repeats 3 --out bench/results/speed/cpu_default.json

A smoke test (about 3 minutes): `python bench/cpu_default.py --models shipped --seconds 10,40 --repeats 1 --out /tmp/c.json`
(one round is noise: single rows moved by ±25 % in it)
"""
import argparse
import gc
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--models', default='shipped,scnet_small', help='comma-separated: shipped, scnet_small')
    ap.add_argument('--seconds', default='15,60,180', help='comma-separated track lengths (s) of the shipped separator')
    ap.add_argument('--small-seconds', default='180', help="the same for SCNet small (11 s chunks: 60 s is 11 model calls, below AUTO_MIN_CALLS)")
    ap.add_argument('--shipped-batches', default='4,1', help="batch sizes of the shipped separator's rows")
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--out', default=str(ROOT / 'bench' / 'results' / 'speed' / 'cpu_default.json'))
    a = ap.parse_args(argv)
    a.models = [m for m in a.models.split(',') if m]
    a.seconds = {'shipped': [float(s) for s in a.seconds.split(',') if s], 'scnet_small': [float(s) for s in a.small_seconds.split(',') if s]}
    bad = [m for m in a.models if m not in ('shipped', 'scnet_small')]
    if bad: ap.error(f"unknown model(s) {bad}")
    return a


def build(name, shipped_batches):
    from mss.inference import InferenceEngine
    torch.manual_seed(0)
    if name == 'shipped':
        e = InferenceEngine.from_pretrained(device='cpu', backend='eager')
        return e.model.eval(), e.config, [int(b) for b in shipped_batches.split(',')]
    from mss.config import InferenceConfig
    from mss.models.scnet import SCNET_CONFIGS, SCNet
    m = SCNet(**SCNET_CONFIGS['small']).eval()
    return m, InferenceConfig(batch_size=1).resolved(m), [1]


def timed(engine, audio):
    "(CPU s, wall s, stems, BackendSelected events) of one run."
    from mss.events import BackendSelected
    ev = []
    gc.collect()
    c0, w0 = time.process_time(), time.perf_counter()
    out = engine.run(audio, callback=ev.append).outputs
    return time.process_time() - c0, time.perf_counter() - w0, out, [e for e in ev if isinstance(e, BackendSelected)]


def main(a):
    import dataclasses
    from mss.inference import AUTO_MIN_CALLS, InferenceEngine
    torch.set_num_threads(a.threads)
    sr = 44100
    load0 = os.getloadavg()
    longest = 0.1 * torch.randn(2, int(max(max(v) for v in a.seconds.values()) * sr), generator=torch.Generator().manual_seed(0))
    rows = []
    warm = {}  # (model, batch) -> the one 'auto warm' engine, traced on the longest track before anything is timed
    for name in a.models:
        model, cfg, batches = build(name, a.shipped_batches)
        for b in batches:
            for sec in a.seconds[name]:
                audio = longest[:, :int(sec * sr)]
                for backend in ('eager', 'auto cold', 'auto warm'):
                    c = dataclasses.replace(cfg, batch_size=b, backend=backend.split()[0])
                    make = lambda c=c, m=model: InferenceEngine(m, c, device='cpu')  # bind this row's model (not the loop's last)
                    if backend != 'auto warm': eng = make()
                    elif (name, b) in warm: eng = warm[name, b]
                    else:
                        eng = warm[name, b] = make()
                        t = time.process_time(); eng.run(longest)
                        print(f"traced the warm engine of {name} b{b} on {longest.shape[-1] / sr:g} s: {eng.runner!r} ({time.process_time() - t:.1f} CPU s)", flush=True)
                    rows.append(dict(model=name, batch=b, seconds=sec, backend=backend, make=make, engine=eng, audio=audio,
                                     calls=-(-len(eng.processor._starts(max(audio.shape[-1], eng.processor.chunk_size))) // b),
                                     chunk_s=cfg.chunk_size_seconds, hop_s=cfg.hop_size_seconds, cpu_s=[], wall_s=[]))
    print(f"# {len(rows)} rows, {a.threads} threads, {a.repeats} round(s), AUTO_MIN_CALLS={AUTO_MIN_CALLS}; load {load0[0]:.2f}", flush=True)
    refs = {}
    for r in rows:  # warm-up; eager first within each (model, batch, seconds) group
        c, w, out, sel = timed(r['engine'], r['audio'])
        key = (r['model'], r['batch'], r['seconds'])
        if r['backend'] == 'eager': refs[key] = out
        r['max_abs_err_vs_eager'] = max(float((out[k] - refs[key][k]).abs().max()) for k in out)
        r['warmup_cpu_s'], r['selected'] = round(c, 3), [(e.backend, e.reason) for e in sel]
        if r['backend'] == 'auto warm': refs.pop(key)
        print(f"warm-up {r['model']} b{r['batch']} {r['seconds']:g} s {r['backend']}: cpu {c:.2f} s, {r['calls']} calls, "
              f"{sel[0].backend if sel else '?'}; err {r['max_abs_err_vs_eager']:.1e}", flush=True)
        del out
    loads = []
    for i in range(a.repeats):
        for r in rows:
            if r['backend'] == 'auto cold': r['engine'] = r['make']()  # a fresh engine: the trace is inside the timed run
            c, w, out, sel = timed(r['engine'], r['audio']); del out
            r['cpu_s'].append(round(c, 3)); r['wall_s'].append(round(w, 3))
            r.setdefault('timed_selected', []).append(sel[0].backend if sel else None)
        loads.append(round(os.getloadavg()[0], 2))
        print(f"round {i + 1}/{a.repeats}, load {loads[-1]}", flush=True)
    for r in rows:
        ref = next(x for x in rows if (x['model'], x['batch'], x['seconds'], x['backend']) == (r['model'], r['batch'], r['seconds'], 'eager'))
        r['cpu_per_s'] = statistics.median(r['cpu_s']) / r['seconds']
        r['wall_per_s'] = statistics.median(r['wall_s']) / r['seconds']
        r['cpu_vs_eager_rounds'] = [round(c / e, 3) for c, e in zip(r['cpu_s'], ref['cpu_s'])]
        r['cpu_vs_eager'] = statistics.median(r['cpu_vs_eager_rounds'])
    lines = ["| model | batch | audio (s) | model calls | backend | ran as | CPU s / s audio | wall s / s audio | CPU ÷ eager (per round) | max abs err vs eager |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sp = r['cpu_vs_eager_rounds']
        lines.append(f"| {r['model']} | {r['batch']} | {r['seconds']:g} | {r['calls']} | {r['backend']} | {r['timed_selected'][0]} | "
                     f"{r['cpu_per_s']:.3f} | {r['wall_per_s']:.3f} | **{r['cpu_vs_eager']:.2f}** ({min(sp):.2f}–{max(sp):.2f}) | "
                     f"{r['max_abs_err_vs_eager']:.1e} |")
    table = '\n'.join(lines)
    print(table)
    meta = dict(threads=a.threads, repeats=a.repeats, auto_min_calls=AUTO_MIN_CALLS, load_start=load0[0], load_rounds=loads,
                load_end=os.getloadavg()[0], torch=torch.__version__, machine=platform.processor() or platform.machine(),
                date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))
    keep = ('model', 'batch', 'seconds', 'backend', 'calls', 'chunk_s', 'hop_s', 'cpu_s', 'wall_s', 'cpu_per_s', 'wall_per_s',
            'cpu_vs_eager', 'cpu_vs_eager_rounds', 'max_abs_err_vs_eager', 'warmup_cpu_s', 'selected', 'timed_selected')
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(dict(meta=meta, rows=[{k: r[k] for k in keep} for r in rows], table=table), indent=1))
    print(f"wrote {a.out}")


if __name__ == '__main__':
    main(parse_args())
