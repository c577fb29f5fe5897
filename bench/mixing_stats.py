"""MF-56 normalisation statistics from a fixed set of generated mixes -> mss/assets/mf56_stats.json.

Set: 64 segments of 6 s at 44.1 kHz, each remixed with one random mixing setting (mss.encoder.random_mix_settings,
torch seed 0). With `--root`, random 6 s crops (numpy seed 0) of the train split of a generated dataset
(`mss-make-dataset`); without it, toy_song seeds 0..63 (mss.synth.toy_song, the synthetic fallback).

    mss-make-dataset --root gen40 --n_train 32 --n_test 8 --n_valid 0 --duration 30 --seed 0
    python bench/mixing_stats.py --root gen40
"""
import argparse, json, time
from pathlib import Path
import numpy as np
import torch
torch.set_num_threads(1)
from mss.synth import toy_song
from mss.features import mixing_features, FEATURE_NAMES, FALLBACK_SCALE
from mss.encoder import random_mix_settings, apply_mix_settings, FolderSongs

ap = argparse.ArgumentParser(); ap.add_argument('--root', default=None, help='generated dataset (train split is used)')
a = ap.parse_args()
N, SECONDS, SR = 64, 6.0, 44100
g = torch.Generator().manual_seed(0)
settings = random_mix_settings(N, g)
folder, rng = (FolderSongs(a.root, SECONDS, SR, split='train'), np.random.default_rng(0)) if a.root else (None, None)
feats = []
t0 = time.time()
for i in range(N):
    song = folder(rng) if folder else toy_song(i, SECONDS, SR)
    st = {k: v[i:i + 1] for k, v in settings.items()}
    wet = apply_mix_settings({k: v[None] for k, v in song.items()}, st, SR)
    with torch.no_grad(): feats.append(mixing_features(wet, SR)[0])
F = torch.stack(feats).double()
std = torch.maximum(F.std(0), FALLBACK_SCALE.double() / 10)
out = dict(names=FEATURE_NAMES, mean=[round(v, 5) for v in F.mean(0).tolist()], std=[round(v, 5) for v in std.tolist()],
           raw_std=[round(v, 5) for v in F.std(0).tolist()], n_mixes=N, seconds=SECONDS, sample_rate=SR,
           source=((f"{N} random {SECONDS:g} s crops (numpy seed 0) of the train split of a generated dataset "
                    f"({len(folder.tracks)} tracks under {Path(a.root).name}/train; see its metadata.json for how it was made)" if folder else
                    "toy_song seeds 0-63 (mss.synth.toy_song, the synthetic fallback)")
                   + ", each remixed with one mss.encoder.random_mix_settings draw (torch seed 0); std floored at FALLBACK_SCALE/10"),
           command="python bench/mixing_stats.py" + (" --root <generated set>" if folder else ""))
p = Path(__file__).resolve().parents[1] / 'mss' / 'assets' / 'mf56_stats.json'
p.write_text(json.dumps(out, indent=1))
print(f"wrote {p} from {N} mixes in {time.time() - t0:.0f} s")
