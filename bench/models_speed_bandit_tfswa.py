"""CPU speed of BandIt (music-64) and the TFSWA-style U-Net through `mss.ola.OverlapAddProcessor`.

Protocol: random weights (seed 0), eval mode, `torch.inference_mode`, 2 torch threads, seeded randn·0.1 stereo
input of 30 s at 44.1 kHz, chunk = the model's `chunk_size` (6 s), hop = chunk/2 (50 % overlap), batch 2; one warm-up
call on a 1-chunk input, then `--reps` timed calls (median reported). Wall time and process CPU time are both given.

    python bench/models_speed_bandit_tfswa.py --reps 1 --out bench/RESULTS.bandit_tfswa.md
"""
import argparse, platform, statistics, time
from pathlib import Path
import torch
from mss.ola import OverlapAddProcessor
from mss.models.bandit import BandIt, BandItConfig
from mss.models.tfswa import TFSWAUNet, TFSWAConfig

SR, SECONDS = 44100, 30.0

def build(name):
    torch.manual_seed(0)
    if name == 'bandit': return BandIt.from_config(BandItConfig()).eval()
    return TFSWAUNet.from_config(TFSWAConfig()).eval()

def time_model(name, reps, batch):
    model = build(name)
    nparams = sum(p.numel() for p in model.parameters())
    chunk = model.chunk_size / SR
    proc = OverlapAddProcessor(chunk, chunk / 2, SR)
    x = 0.1 * torch.randn(2, int(SECONDS * SR), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        proc.process(model, x[:, :model.chunk_size], batch_size=batch)         # warm-up
        walls, cpus = [], []
        for _ in range(reps):
            t0, c0 = time.perf_counter(), time.process_time()
            y = proc.process(model, x, batch_size=batch)
            walls.append(time.perf_counter() - t0); cpus.append(time.process_time() - c0)
    assert all(v.shape == x.shape for v in y.values())
    return dict(model=name, params=nparams, chunks=len(proc._starts(x.shape[-1])), wall=statistics.median(walls),
                cpu=statistics.median(cpus), reps=reps)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--reps', type=int, default=1)
    ap.add_argument('--batch', type=int, default=2)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--models', default='bandit,tfswa')
    ap.add_argument('--out', default='bench/RESULTS.bandit_tfswa.md')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = [time_model(m, a.reps, a.batch) for m in a.models.split(',')]
    lines = ['# BandIt and TFSWA-style U-Net: CPU speed through OverlapAddProcessor', '',
             f'30 s stereo 44.1 kHz (randn·0.1), random weights, chunk 6 s, hop 3 s, batch {a.batch}, '
             f'{a.threads} torch threads, median of {a.reps}; torch {torch.__version__}, {platform.processor() or platform.machine()}.',
             'The machine was shared with other jobs (2 cores for several agents), so the numbers are upper bounds.', '',
             '| model | params | chunks | wall (s) | CPU (s) | real-time factor (wall / 30 s) |', '|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['model']} | {r['params']:,d} | {r['chunks']} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['wall'] / SECONDS:.2f} |")
    lines += ['', 'Command:', '', f'    python bench/models_speed_bandit_tfswa.py --reps {a.reps} --batch {a.batch} --threads {a.threads}', '']
    Path(a.out).write_text('\n'.join(lines))
    print('\n'.join(lines))

if __name__ == '__main__': main()
