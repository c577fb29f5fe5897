"""CPU speed of separation models through `mss.ola.OverlapAddProcessor`, relative to HTDemucs.

Random weights (seed 0), fp32, eval mode, `torch.inference_mode`, batch 1, 30 s of stereo noise at 44.1 kHz.
Every model runs on its own training chunk with 25 % overlap (hop = 0.75 chunk, the Demucs `apply_model` default).
Reported: process CPU time (all threads) and wall time, and each as a ratio to HTDemucs.

HTDemucs needs `demucs==4.1.0`, installed into a separate venv that reuses the system torch:

    python -m venv --system-site-packages bench/.venv-peers
    bench/.venv-peers/bin/pip install demucs==4.1.0
    bench/.venv-peers/bin/python bench/models_speed.py --seconds 30 --threads 2 --repeats 1 \
        --models htdemucs,scnet_small,scnet_masked_xl_ihf,bandit,tfswa_unet --out bench/out/models_speed.md

Without demucs the script still times the mss models and says HTDemucs is missing.
"""
import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch
from torch import nn

from mss.models import count_params
from mss.models.scnet import SCNET_CONFIGS, SCNet, SCNetMasked
from mss.ola import OverlapAddProcessor


class DemucsAdapter(nn.Module):
    "HTDemucs (tensor (B, S, C, L) output) wrapped in the mss contract: {stem: (B, C, L)}."
    def __init__(self, model):
        super().__init__()
        self.model, self.stems, self.sample_rate = model, list(model.sources), model.samplerate
        self.chunk_size = round(float(model.segment) * model.samplerate)

    def forward(self, mix):
        y = self.model(mix)
        return {s: y[:, i] for i, s in enumerate(self.stems)}


def build(name):
    torch.manual_seed(0)
    if name == 'htdemucs':
        try: from demucs.htdemucs import HTDemucs
        except ImportError as e: return None, f"demucs not importable ({e})"
        # released `htdemucs` config: bottom_channels 512 (41,473,616 params), segment 7.8 s
        return DemucsAdapter(HTDemucs(sources=['drums', 'bass', 'other', 'vocals'], bottom_channels=512, segment=7.8)), ''
    if name == 'scnet_small': return SCNet(**SCNET_CONFIGS['small']), ''
    if name == 'scnet_masked_xl_ihf': return SCNetMasked(**SCNET_CONFIGS['xl_ihf']), ''
    if name == 'bandit':
        from mss.models.bandit import BandIt
        return BandIt(), ''   # music-64, stereo, 4 stems, BiLSTM 256, 8 modules
    if name == 'tfswa_unet':
        from mss.models.tfswa import TFSWAUNet
        return TFSWAUNet(), ''
    raise ValueError(f"unknown model {name!r}")


def time_model(model, audio, hop_fraction, repeats):
    model.eval()
    chunk_s = model.chunk_size / model.sample_rate
    ola = OverlapAddProcessor(chunk_s, chunk_s * hop_fraction, model.sample_rate)
    ola.process(model, audio[:, : model.chunk_size], batch_size=1)  # warm-up: one chunk
    best = None
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        out = ola.process(model, audio, batch_size=1)
        c, w = time.process_time() - c0, time.perf_counter() - w0
        best = (c, w) if best is None or w < best[1] else best
    assert all(v.shape == audio.shape for v in out.values())
    return best, len(ola._starts(max(audio.shape[-1], model.chunk_size))), chunk_s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seconds', type=float, default=30.0)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--repeats', type=int, default=2)
    ap.add_argument('--hop-fraction', type=float, default=0.75)
    ap.add_argument('--models', default='htdemucs,scnet_small,scnet_masked_xl_ihf,bandit,tfswa_unet')
    ap.add_argument('--out', default=None, help='write a markdown report here')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    audio = 0.1 * torch.randn(2, int(a.seconds * 44100), generator=g)
    rows, notes = [], []
    for name in a.models.split(','):
        model, why = build(name)
        if model is None:
            notes.append(f"{name}: not measured, {why}"); print(notes[-1], flush=True); continue
        (cpu, wall), n_chunks, chunk_s = time_model(model, audio, a.hop_fraction, a.repeats)
        rows.append({'name': name, 'params': count_params(model), 'chunk': chunk_s, 'n': n_chunks, 'cpu': cpu, 'wall': wall})
        print(f"{name:22s} params {rows[-1]['params']:>11,d}  chunk {chunk_s:.2f} s x {n_chunks}  cpu {cpu:7.1f} s  wall {wall:7.1f} s", flush=True)
        del model
    ref = next((r for r in rows if r['name'] == 'htdemucs'), None)
    lines = ["| model | params | chunk (s) × chunks | CPU time (s) | wall (s) | CPU ÷ HTDemucs | wall ÷ HTDemucs |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        rc = f"{r['cpu'] / ref['cpu']:.2f}" if ref else 'n/a'
        rw = f"{r['wall'] / ref['wall']:.2f}" if ref else 'n/a'
        lines.append(f"| {r['name']} | {r['params']:,} | {r['chunk']:.2f} × {r['n']} | {r['cpu']:.1f} | {r['wall']:.1f} | {rc} | {rw} |")
    load = os.getloadavg() if hasattr(os, 'getloadavg') else None
    meta = (f"{a.seconds:g} s stereo noise, 44.1 kHz; torch {torch.__version__}, {a.threads} threads, batch 1, fp32, random weights; "
            f"hop = {a.hop_fraction:g} × chunk; best of {a.repeats}; {platform.processor() or platform.machine()}"
            + (f", load average at the end {load[0]:.1f}" if load else ''))
    table = '\n'.join(lines)
    print(table); print(meta)
    for n in notes: print(n)
    if a.out:
        Path(a.out).write_text(f"<!-- generated by bench/models_speed.py -->\n{table}\n\n{meta}\n" + ''.join(f"\n{n}\n" for n in notes))


if __name__ == '__main__':
    main()
