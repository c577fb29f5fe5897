"""CPU time per second of audio of SCNet small and the shipped separator in PyTorch eager, TorchScript, torch.compile and ONNX Runtime, beside HTDemucs (issue 16 §2).

Every row runs the same track through `mss.inference.InferenceEngine` (the same overlap-add for every path): seeded
stereo noise (seed 0, 0.1 × N(0, 1)) at 44.1 kHz, each model on its own training chunk (SCNet small 11 s, the shipped
separator 2 s, HTDemucs 7.8 s) with hop = `--hop-fraction` × chunk (default 0.75: 25 % overlap, the Demucs
`apply_model` default), `--batch` chunks per model call, fp32, `--threads` torch threads and ONNX Runtime intra-op
threads.

Paths of the two mss models (`--paths`):
- `eager`: the PyTorch model;
- `torchscript`: `mss.export.export_torchscript` -> `mss.export.ExportedSeparator` (`torch.jit.load`);
- `compile`: `torch.compile(model.core, dynamic=False)`, the framing (STFT/iSTFT) eager; its first call compiles
  (with a fresh inductor cache unless `--warm-compile-cache`);
- `onnx`: `mss.export.export_onnx` -> `ExportedSeparator` (ONNX Runtime, CPU provider).
HTDemucs (`demucs==4.1.0`, `HTDemucs(bottom_channels=512, segment=7.8)`, random weights, through `bench/models_speed.py`'s
adapter) runs eager only. A batch-size probe (`--probe`, default 1,2,4) adds eager rows of SCNet small and HTDemucs at
other batch sizes.

Procedure: build every row (export/compile times recorded apart); one untimed first call on one chunk per row (for
`compile` this is the compile time); one untimed full-track run per row whose stems give each path's max |error|
against the same model's eager output (the issue's ≤ 1e-4 match); then `--repeats` timed rounds, every row once per
round, interleaved in the same order, so load drift hits all rows alike. Reported per row: the median over rounds
(and the min) of the process CPU time over all threads and of the wall time, per second of audio (track length) and
per processed second (chunks × chunk), and the CPU-time ratio to HTDemucs eager at `--batch` from the same rounds.

Needs demucs: run it with the peers venv (it reuses the system torch and the editable mss). The full run, on a quiet
machine: about 20–30 minutes on the project's 2-core box (≈ 8–12 of them exporting and compiling: the ONNX export of
SCNet small alone takes 3–4.5 min, each torch.compile 1.5–3 min), peak memory ≈ 5–8 GB:

    OMP_NUM_THREADS=2 bench/.venv-peers/bin/python bench/export_speed.py --seconds 30 --threads 2 --repeats 3 \
        --out bench/results/speed/export_speed.json

Under other load the SCNet rows at 2 threads are not worth reading (CPU time 2–10× the quiet value in the smoke tests,
HTDemucs barely moved; most likely because the LSTMs join their two OpenMP threads thousands of times per chunk and
each join waits for a descheduled thread): check the load averages the report records.

Smoke test of every path (2–5 minutes: the shipped separator and HTDemucs only, one round):

    OMP_NUM_THREADS=2 bench/.venv-peers/bin/python bench/export_speed.py --models shipped,htdemucs --probe 1,2 \
        --probe-models htdemucs --seconds 4 --repeats 1 --out /tmp/export_speed_smoke.json
"""
import argparse
import gc
import json
import logging
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATHS = ('eager', 'torchscript', 'compile', 'onnx')
MSS_MODELS = ('scnet_small', 'shipped')


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--models', default='scnet_small,shipped,htdemucs', help='comma-separated: scnet_small, shipped, htdemucs')
    ap.add_argument('--paths', default=','.join(PATHS), help=f"comma-separated paths of the mss models: {', '.join(PATHS)}")
    ap.add_argument('--probe', default='1,2,4', help="batch sizes of the eager probe rows (SCNet small, HTDemucs); '' for none")
    ap.add_argument('--probe-models', default='scnet_small,htdemucs')
    ap.add_argument('--seconds', type=float, default=30.0, help='track length (s)')
    ap.add_argument('--threads', type=int, default=2, help='torch threads and ONNX Runtime intra-op threads')
    ap.add_argument('--repeats', type=int, default=3, help='timed rounds (the median and the min are reported)')
    ap.add_argument('--batch', type=int, default=1, help='chunks per model call of the main rows')
    ap.add_argument('--hop-fraction', type=float, default=0.75, help='hop = this × chunk for every model')
    ap.add_argument('--chunk-seconds', type=float, default=None, help="override the mss models' chunk (s), e.g. for a quick smoke test")
    ap.add_argument('--compile-mode', default=None, help='torch.compile mode (None: the default)')
    ap.add_argument('--warm-compile-cache', action='store_true', help="use torch inductor's usual on-disk cache (default: a fresh one in the work folder)")
    ap.add_argument('--workdir', default=None, help='where the exported files go (default: a temporary folder, deleted)')
    ap.add_argument('--out', default=str(ROOT / 'bench' / 'results' / 'speed' / 'export_speed.json'), help='JSON report')
    a = ap.parse_args(argv)
    a.models, a.paths = [m for m in a.models.split(',') if m], [p for p in a.paths.split(',') if p]
    a.probe = [int(b) for b in a.probe.split(',') if b]
    a.probe_models = [m for m in a.probe_models.split(',') if m]
    bad = [m for m in a.models + a.probe_models if m not in MSS_MODELS + ('htdemucs',)] + [p for p in a.paths if p not in PATHS]
    if bad: ap.error(f"unknown model(s)/path(s): {', '.join(bad)}")
    return a


# the thread count must be in the environment before torch (and its OpenMP) is loaded
if __name__ == '__main__':
    _ARGS = parse_args()
    os.environ.setdefault('OMP_NUM_THREADS', str(_ARGS.threads))
    os.environ.setdefault('MKL_NUM_THREADS', str(_ARGS.threads))

sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / 'bench'))
import torch
from torch import nn

from mss.config import InferenceConfig
from mss.inference import InferenceEngine

logging.getLogger('torch.onnx').setLevel(logging.ERROR)  # 'torchvision is not installed' notices of the ONNX exporter


class CompiledCore(nn.Module):
    "A separation model whose `core` runs through `torch.compile`; the framing (STFT, iSTFT) stays eager."
    def __init__(self, model, mode=None):
        super().__init__()
        self.model = model
        self.stems, self.sample_rate, self.audio_channels = list(model.stems), model.sample_rate, model.audio_channels
        self.chunk_size = model.chunk_size
        self.compiled = torch.compile(model.core, mode=mode, dynamic=False)

    def forward(self, mixture):
        fr = self.model.framing
        return fr.synthesis(self.compiled(fr.analysis(mixture)), mixture.shape[-1])


def build_model(name):
    "The PyTorch model of `name` (random weights, seed 0, except the shipped separator), or (None, why)."
    torch.manual_seed(0)
    if name == 'scnet_small':
        from mss.models.scnet import SCNET_CONFIGS, SCNet
        return SCNet(**SCNET_CONFIGS['small']).eval(), ''
    if name == 'shipped':
        return InferenceEngine.from_pretrained(device='cpu').model.eval(), ''
    if name == 'htdemucs':
        from models_speed import build
        m, why = build('htdemucs')
        if m is not None: m.audio_channels = m.model.audio_channels
        return (m.eval() if m is not None else None), why
    raise ValueError(name)


def make_path(model, name, path, chunk, workdir, threads, compile_mode):
    "The separation module running `model` through `path`, and the seconds it took to make (export / trace / wrap)."
    from mss.export import ExportedSeparator, export_onnx, export_torchscript
    t = time.perf_counter()
    if path == 'eager': m = model
    elif path == 'compile': m = CompiledCore(model, compile_mode)
    elif path == 'torchscript':
        f = export_torchscript(model, Path(workdir) / f'{name}.ts', chunk_size=chunk)
        m = ExportedSeparator(f, threads=threads)
    elif path == 'onnx':
        f = export_onnx(model, Path(workdir) / f'{name}.onnx', chunk_size=chunk)
        m = ExportedSeparator(f, threads=threads)
    else: raise ValueError(path)
    return m, time.perf_counter() - t


def run_once(engine, audio):
    "(CPU s, wall s, stems) of one full-track separation."
    gc.collect()
    c0, w0 = time.process_time(), time.perf_counter()
    out = engine.run(audio).outputs
    return time.process_time() - c0, time.perf_counter() - w0, out


def max_err(a, b): return max(float((a[k] - b[k]).abs().max()) for k in a)


def main(a):
    torch.set_num_threads(a.threads)
    sr = 44100
    audio = 0.1 * torch.randn(2, int(round(a.seconds * sr)), generator=torch.Generator().manual_seed(0))
    load0 = os.getloadavg()
    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix='export_speed_'))
    work.mkdir(parents=True, exist_ok=True)
    if not a.warm_compile_cache:  # a cold inductor cache, so that the compile time is what a fresh install pays
        os.environ['TORCHINDUCTOR_CACHE_DIR'] = str(work / 'inductor_cache')
    rows, notes, models = [], [], {}
    print(f"# {a.seconds:g} s stereo noise, {a.threads} threads, batch {a.batch}, hop {a.hop_fraction:g} × chunk, "
          f"{a.repeats} timed round(s); load average {load0[0]:.2f}", flush=True)

    # ---- build every row
    wanted = list(dict.fromkeys(a.models + [m for m in a.probe_models if a.probe]))
    for name in wanted:
        t = time.perf_counter(); model, why = build_model(name); build_s = time.perf_counter() - t
        if model is None:
            notes.append(f"{name}: not measured, {why}"); print(notes[-1], flush=True); continue
        models[name] = model
        chunk = model.chunk_size if (a.chunk_seconds is None or name == 'htdemucs') else int(round(a.chunk_seconds * sr))
        paths = (['eager'] if name == 'htdemucs' else a.paths) if name in a.models else []
        batches = {p: [a.batch] for p in paths}
        if name in a.probe_models and a.probe:
            batches['eager'] = sorted(set(batches.get('eager', []) + a.probe))
        for path in [p for p in PATHS if p in batches]:
            prep_s, m, err = None, None, None
            try: m, prep_s = make_path(model, name, path, chunk, work, a.threads, a.compile_mode)
            except Exception as e:
                err = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}"
            for b in batches[path]:
                cfg = InferenceConfig(chunk_size_seconds=chunk / sr, hop_size_seconds=a.hop_fraction * chunk / sr,
                                      batch_size=b, normalize=False, backend='eager')  # each row runs its path as given, untraced
                row = dict(model=name, path=path, batch=b, chunk_s=chunk / sr, hop_s=a.hop_fraction * chunk / sr,
                           build_s=round(build_s, 2), prep_s=None if prep_s is None else round(prep_s, 2), error=err,
                           engine=None if m is None else InferenceEngine(m, cfg, device='cpu'))
                if row['engine'] is not None:
                    row['n_chunks'] = len(row['engine'].processor._starts(max(audio.shape[-1], row['engine'].processor.chunk_size)))
                rows.append(row)
                print(f"built {name:12s} {path:11s} batch {b}: prep {row['prep_s']} s{'  FAILED ' + err if err else ''}", flush=True)

    # ---- warm-up: a first call on one chunk, then one full-track run that also gives the outputs checked against eager
    refs = {}
    for row in sorted(rows, key=lambda r: (r['path'] != 'eager', r['batch'] != a.batch)):  # eager at --batch first
        if row['engine'] is None: continue
        eng = row['engine']
        try:
            t = time.perf_counter(); eng.run(audio[:, :eng.processor.chunk_size]); row['first_call_s'] = round(time.perf_counter() - t, 2)
            c, w, out = run_once(eng, audio)
        except Exception as e:
            row['error'] = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}"
            row['engine'] = None; print(f"warm-up {row['model']} {row['path']} b{row['batch']} FAILED: {row['error']}", flush=True); continue
        row['warmup_cpu_s'], row['warmup_wall_s'] = round(c, 3), round(w, 3)
        key = row['model']
        if row['path'] == 'eager' and row['batch'] == a.batch: refs[key] = out; row['max_abs_err_vs_eager'] = 0.0
        elif key in refs: row['max_abs_err_vs_eager'] = max_err(out, refs[key])
        row['max_abs_out'] = max(float(v.abs().max()) for v in out.values())
        del out
        print(f"warm-up {row['model']:12s} {row['path']:11s} b{row['batch']}: first call {row['first_call_s']} s, "
              f"run cpu {c:.2f} s wall {w:.2f} s, max|err| vs eager {row.get('max_abs_err_vs_eager', float('nan')):.2e}", flush=True)
    refs.clear(); gc.collect()

    # ---- timed rounds, interleaved
    live = [r for r in rows if r['engine'] is not None]
    for r in live: r['cpu_s'], r['wall_s'] = [], []
    load_rounds = []
    for i in range(a.repeats):
        for row in live:
            c, w, out = run_once(row['engine'], audio); del out
            row['cpu_s'].append(round(c, 3)); row['wall_s'].append(round(w, 3))
        load_rounds.append(round(os.getloadavg()[0], 2))
        print(f"round {i + 1}/{a.repeats} done, load average {load_rounds[-1]:.2f}", flush=True)

    # ---- summary
    sec = audio.shape[-1] / sr
    for r in live:
        r['cpu_med'], r['wall_med'] = statistics.median(r['cpu_s']), statistics.median(r['wall_s'])
        r['cpu_min'], r['wall_min'] = min(r['cpu_s']), min(r['wall_s'])
        r['cpu_per_s'], r['wall_per_s'] = r['cpu_med'] / sec, r['wall_med'] / sec
        r['cpu_per_processed_s'] = r['cpu_med'] / (r['n_chunks'] * r['chunk_s'])
    ref = next((r for r in live if r['model'] == 'htdemucs' and r['batch'] == a.batch), None)
    for r in live:
        r['cpu_ratio_htdemucs'] = r['cpu_med'] / ref['cpu_med'] if ref else None
        r['wall_ratio_htdemucs'] = r['wall_med'] / ref['wall_med'] if ref else None
        # the same ratio per round (both rows timed in the same round), to show its spread
        r['cpu_ratio_htdemucs_rounds'] = [round(c / h, 3) for c, h in zip(r['cpu_s'], ref['cpu_s'])] if ref else None
    fmt = lambda v, p=2: 'n/a' if v is None else f"{v:.{p}f}"
    lines = ["| model | path | batch | chunk × n | prep (s) | first call (s) | CPU s / s audio | wall s / s audio | "
             "CPU s / processed s | CPU ÷ HTDemucs (per round) | wall ÷ HTDemucs | max abs err vs eager |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r['engine'] is None:
            lines.append(f"| {r['model']} | {r['path']} | {r['batch']} | {r['chunk_s']:.2f} s | {fmt(r['prep_s'])} | | "
                         f"failed: {r['error']} | | | | | |"); continue
        spread = f" ({min(r['cpu_ratio_htdemucs_rounds']):.2f}–{max(r['cpu_ratio_htdemucs_rounds']):.2f})" if ref and a.repeats > 1 else ''
        e = r.get('max_abs_err_vs_eager')
        lines.append(f"| {r['model']} | {r['path']} | {r['batch']} | {r['chunk_s']:.2f} s × {r['n_chunks']} | {fmt(r['prep_s'])} | "
                     f"{fmt(r.get('first_call_s'))} | {r['cpu_per_s']:.3f} | {r['wall_per_s']:.3f} | {r['cpu_per_processed_s']:.3f} | "
                     f"**{fmt(r['cpu_ratio_htdemucs'])}**{spread} | {fmt(r['wall_ratio_htdemucs'])} | {'n/a' if e is None else f'{e:.1e}'} |")
    load1 = os.getloadavg()
    try: import onnxruntime; ort_v = onnxruntime.__version__
    except ImportError: ort_v = None
    meta = dict(seconds=sec, sample_rate=sr, threads=a.threads, batch=a.batch, hop_fraction=a.hop_fraction, repeats=a.repeats,
                statistic='median over the timed rounds (min also given); CPU = process CPU time over all threads',
                chunk_override_s=a.chunk_seconds, compile_mode=a.compile_mode, inductor_cache='warm' if a.warm_compile_cache else 'cold', torch=torch.__version__, onnxruntime=ort_v,
                python=platform.python_version(), cpu=platform.processor() or platform.machine(), cores=os.cpu_count(),
                omp_num_threads=os.environ.get('OMP_NUM_THREADS'), load_average_start=load0, load_average_rounds=load_rounds, load_average_end=load1,
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                date_utc=time.strftime('%Y-%m-%d %H:%M', time.gmtime()), command=' '.join([sys.executable] + sys.argv), notes=notes)
    text = '\n'.join(lines)
    summary = (f"{sec:g} s stereo noise at 44.1 kHz through `InferenceEngine`; {a.threads} threads (torch and ONNX Runtime); "
               f"hop = {a.hop_fraction:g} × chunk; main rows batch {a.batch}; median of {a.repeats} interleaved round(s) after "
               f"a warm-up run; fp32; torch {torch.__version__}, onnxruntime {ort_v}; load average {load0[0]:.2f} at the start, "
               f"{load1[0]:.2f} at the end; peak RSS {meta['peak_rss_mb']:.0f} MB.")
    print('\n' + text + '\n\n' + summary)
    for n in notes: print(n)
    if a.out:
        out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
        keep = [{k: v for k, v in r.items() if k != 'engine'} for r in rows]
        out.write_text(json.dumps({'meta': meta, 'rows': keep, 'table_md': text, 'summary': summary}, indent=1) + '\n')
        print(f"wrote {out}")
    if not a.workdir:
        import shutil; shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main(_ARGS)
