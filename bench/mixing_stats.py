"""MF-56 normalisation statistics from a fixed set of generated mixes -> mss/assets/mf56_stats.json.

Set: toy_song seeds 0..63 (6 s, 44.1 kHz; the documented synthetic stand-in, mss.features.toy_song), each remixed with
one random mixing setting (mss.encoder.random_mix_settings, torch seed 0). Run: python bench/mixing_stats.py
"""
import json, sys, time
from pathlib import Path
import torch
torch.set_num_threads(1)
from mss.features import toy_song, mixing_features, FEATURE_NAMES, FALLBACK_SCALE
from mss.encoder import random_mix_settings, apply_mix_settings

N, SECONDS, SR = 64, 6.0, 44100
g = torch.Generator().manual_seed(0)
settings = random_mix_settings(N, g)
feats = []
t0 = time.time()
for i in range(N):
    song = toy_song(i, SECONDS, SR)
    st = {k: v[i:i + 1] for k, v in settings.items()}
    wet = apply_mix_settings({k: v[None] for k, v in song.items()}, st, SR)
    with torch.no_grad(): feats.append(mixing_features(wet, SR)[0])
F = torch.stack(feats).double()
std = torch.maximum(F.std(0), FALLBACK_SCALE.double() / 10)
out = dict(names=FEATURE_NAMES, mean=[round(v, 5) for v in F.mean(0).tolist()], std=[round(v, 5) for v in std.tolist()],
           raw_std=[round(v, 5) for v in F.std(0).tolist()], n_mixes=N, seconds=SECONDS, sample_rate=SR,
           source=("toy_song seeds 0-63 (mss.features.toy_song, synthetic stand-in for the generated set), each remixed with "
                   "one mss.encoder.random_mix_settings draw (torch seed 0); std floored at FALLBACK_SCALE/10"),
           command="python bench/mixing_stats.py")
p = Path(__file__).resolve().parents[1] / 'mss' / 'assets' / 'mf56_stats.json'
p.write_text(json.dumps(out, indent=1))
print(f"wrote {p} from {N} mixes in {time.time() - t0:.0f} s")
