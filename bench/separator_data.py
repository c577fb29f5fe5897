"""Split a generated data set by song for the shipped separator (issue 12).

`mss-make-dataset` splits train and test by song in proportion to the track counts, so a 200/10 set holds out only two
songs of the ~40 installed. This script re-splits an existing generated root into a new root, hard-linking the WAV files
(no copy, no re-render): every track of `--test-songs` songs drawn at random (seeded) from the train songs, plus the
original test songs, goes to test/ (at most `--per-song` windows per song); every track of `--valid-songs` further songs
is the validation split; the rest is train/. It asserts that no song of test/ or of validation has a track in training,
and records the split in metadata.json.

    python bench/separator_data.py --src gen200 --dst sep_data --test-songs 8 --valid-songs 3 --per-song 2 --seed 12
"""
import argparse, json, os, shutil
from pathlib import Path

import numpy as np
import yaml


def _link_track(src: Path, dst: Path):
    dst.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        os.link(f, dst / f.name)


def split_by_song(src, dst, test_songs: int = 8, valid_songs: int = 3, per_song: int = 2, seed: int = 12) -> dict:
    src, dst = Path(src), Path(dst)
    meta = json.loads((src / 'metadata.json').read_text())
    tracks = meta['tracks']
    song = {name: t['song'] for name, t in tracks.items()}
    train_songs = sorted({song[n] for n, t in tracks.items() if t['subset'] == 'train'})
    old_test = sorted({song[n] for n, t in tracks.items() if t['subset'] == 'test'})
    if test_songs + valid_songs >= len(train_songs):
        raise SystemExit(f"only {len(train_songs)} train songs: cannot hold out {test_songs} + {valid_songs}")
    order = [train_songs[k] for k in np.random.default_rng(seed).permutation(len(train_songs))]
    held_test, held_valid = set(order[:test_songs]) | set(old_test), set(order[test_songs:test_songs + valid_songs])
    if dst.exists(): shutil.rmtree(dst)
    test, train, valid, per = [], [], [], {}
    for name in sorted(tracks):
        s = song[name]
        if s in held_test:
            per[s] = per.get(s, 0) + 1
            if per[s] <= per_song: test.append(name)
        elif s in held_valid: valid.append(name)
        else: train.append(name)
    for name in test: _link_track(src / tracks[name]['subset'] / name, dst / 'test' / name)
    for name in train + valid: _link_track(src / 'train' / name, dst / 'train' / name)
    seen = {song[n] for n in train}
    assert not seen & {song[n] for n in test}, "a test song has a track in training"
    assert not seen & {song[n] for n in valid}, "a validation song has a track in training"
    setup = yaml.safe_load((src / 'setup.yaml').read_text())
    setup['validation_tracks'] = valid
    (dst / 'setup.yaml').write_text(yaml.safe_dump(setup, sort_keys=False))
    keep = set(test) | set(train) | set(valid)
    out = {**meta, 'tracks': {n: {**t, 'subset': 'test' if n in test else 'train',
                                  **({'split': 'valid'} if n in valid else {})}
                              for n, t in tracks.items() if n in keep
                              for t in [{k: v for k, v in t.items() if k != 'split'}]},
           'resplit': {'from': str(src), 'seed': seed, 'test_songs': sorted(held_test), 'valid_songs': sorted(held_valid),
                       'per_song': per_song, 'train_songs': sorted(seen),
                       'n_train': len(train), 'n_valid': len(valid), 'n_test': len(test)}}
    (dst / 'metadata.json').write_text(json.dumps(out, indent=1, sort_keys=True))
    return out['resplit']


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--src', required=True); p.add_argument('--dst', required=True)
    p.add_argument('--test-songs', type=int, default=8); p.add_argument('--valid-songs', type=int, default=3)
    p.add_argument('--per-song', type=int, default=2); p.add_argument('--seed', type=int, default=12)
    a = p.parse_args()
    r = split_by_song(a.src, a.dst, a.test_songs, a.valid_songs, a.per_song, a.seed)
    print(json.dumps({k: v for k, v in r.items() if k != 'train_songs'}, indent=1))
    print(f"{len(r['train_songs'])} train songs, {r['n_train']} train tracks")
