"""Render new test tracks of the shipped separator's held-out songs (another seed, optionally another singer) in the
MUSDB18-HQ layout, for a second look at how it generalises (issue 12 §3).

    python bench/heldout_songs.py --out heldout7 --seed 7
    python bench/heldout_songs.py --out heldout7_gm --seed 7 --vocals gm
"""
import argparse, json
from pathlib import Path

from mss.pretrained import pretrained_separator
from mss.synth import make_song, find_songs, SAMPLE_RATE, _write_pcm16
import numpy as np


def main(a):
    info = pretrained_separator().info
    titles = [s.title for s in find_songs() if s.title in info['test_songs']]
    seen = set(info['training']['train_songs']) | set(info['training']['valid_songs'])
    assert not seen & set(titles), "a held-out song was seen in training"
    out = Path(a.out)
    meta = {}
    for t in titles:
        try: song, m = make_song(t, a.duration, a.seed, a.vocals)
        except ValueError as e: print('skipped:', e); continue
        d = out / 'test' / m['name']
        d.mkdir(parents=True, exist_ok=True)
        for k, x in song.items(): _write_pcm16(d / f'{k}.wav', np.round(x * 32768).astype(np.int16))
        meta[m['name']] = m
        print('wrote', d)
    (out / 'train').mkdir(parents=True, exist_ok=True)  # the layout mss-evaluate expects (an empty train/)
    (out / 'metadata.json').write_text(json.dumps({'seed': a.seed, 'vocals': a.vocals, 'duration': a.duration,
                                                   'sample_rate': SAMPLE_RATE, 'tracks': meta}, indent=1, default=str))


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', required=True); p.add_argument('--seed', type=int, default=7)
    p.add_argument('--duration', type=float, default=30.0); p.add_argument('--vocals', default='sung')
    main(p.parse_args())
