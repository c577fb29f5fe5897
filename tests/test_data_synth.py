"""Issue 3: a tiny generated set (3 train tracks, 1 of them validation, + 1 test, 6 s each) loaded through mss.data.

Needs the synthesis tools (`.ci/run` installs them: fluidsynth, GM soundfonts, espeak-ng, the MIDI packages, ffmpeg)
and `pip install -e ".[synth]"`. Generation costs about 15 s CPU per run; the set is built twice (once through the
API, once through the command line) to check byte-identical output for one seed.
"""
import hashlib, json, os, shutil, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest
import soundfile as sf
from scipy import signal
import torch
import mss.data as md
from mss.audio import STEMS
import mss.synth as ms
import mss.metrics as mm

ARGS = dict(n_train=3, n_test=1, n_valid=1, duration=6.0, seed=11)
CLI = [sys.executable, '-c', 'from mss.cli import make_dataset_cli; make_dataset_cli()']

def _tools_ok():
    try: ms.check_tools('sung'); return True
    except OSError: return False

pytestmark = pytest.mark.skipif(not _tools_ok(), reason="synthesis tools missing (see mss.synth.APT_LINE)")

def _md5s(root):
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(Path(root).rglob('*.wav'))}

@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('gen') / 'tiny'
    t0 = time.time()
    ms.make_dataset(root, **ARGS)
    print(f"\ngenerated {ARGS['n_train'] + ARGS['n_test']} x {ARGS['duration']} s in {time.time() - t0:.1f} s wall")
    return root

def test_layout_and_metadata(tiny):
    assert len(list((tiny / 'train').iterdir())) == 3 and len(list((tiny / 'test').iterdir())) == 1
    meta = json.loads((tiny / 'metadata.json').read_text())
    assert meta['seed'] == 11 and len(meta['tracks']) == 4
    for t in meta['tracks'].values():
        assert t['licence'].startswith('GPL') and set(t['soundfont']) == set(STEMS)
    assert {s['licence'] for s in meta['soundfonts']} <= {'MIT', 'GPL-2.0-only'}
    train_songs = {t['song'] for t in meta['tracks'].values() if t['subset'] == 'train'}
    test_songs = {t['song'] for t in meta['tracks'].values() if t['subset'] == 'test'}
    assert not train_songs & test_songs  # split by song
    for d in (tiny / 'train').iterdir():
        assert sorted(p.name for p in d.iterdir()) == sorted(f'{s}.wav' for s in ('mixture',) + STEMS)
        for p in d.iterdir():
            i = sf.info(str(p)); assert (i.samplerate, i.channels, i.frames, i.subtype) == (44100, 2, 264600, 'PCM_16')

def test_stems_sum_to_mixture(tiny):
    for d in list((tiny / 'train').iterdir()) + list((tiny / 'test').iterdir()):
        ints = {s: sf.read(d / f'{s}.wav', dtype='int16')[0].astype(np.int32) for s in ('mixture',) + STEMS}
        assert np.abs(ints['mixture'] - sum(ints[s] for s in STEMS)).max() == 0  # integer stems sum exactly
        fl = {s: sf.read(d / f'{s}.wav', dtype='float64')[0] for s in ('mixture',) + STEMS}
        assert np.abs(fl['mixture'] - sum(fl[s] for s in STEMS)).max() <= 1 / 32768
        for s in STEMS: assert np.abs(ints[s]).max() > 30, f"{d.name}/{s} is silent"

HF_MIN = 2e-5  # sung vocals: 1.1e-4 to 1.3e-4 (measured); the same vocals band-limited to 11.025 kHz: about 3e-6

def test_no_bandwidth_cue(tiny):
    "Vocals reach above 11.025 kHz (espeak-ng renders at 22.05 kHz): a band-limited vocal stem would be a cue for separators."
    def hf(x):  # fraction of the energy above 11.025 kHz, x (L, C)
        X = np.abs(np.fft.rfft(x.mean(1))) ** 2
        return X[np.fft.rfftfreq(len(x), 1 / 44100) > 11025].sum() / X.sum()
    for d in (tiny / 'train').iterdir():
        fr = {s: hf(sf.read(d / f'{s}.wav')[0]) for s in STEMS}
        assert fr['vocals'] > HF_MIN, (d.name, fr)
        # the bound is one a band-limited vocal fails: the same stem through a 22.05 kHz resampler
        v = sf.read(d / 'vocals.wav')[0]
        assert hf(signal.resample_poly(signal.resample_poly(v, 1, 2, axis=0), 2, 1, axis=0)) < HF_MIN / 2

def test_splits_match_musdb(tiny):
    names = lambda **kw: [t.name for t in md.list_tracks(tiny, **kw)]
    assert len(names(subset='train', split='valid')) == 1 and len(names(subset='train', split='train')) == 2
    if shutil.which('ffprobe') is None: pytest.skip("musdb needs ffmpeg (P1)")
    for kw in (dict(subset='train', split='train'), dict(subset='train', split='valid'), dict(subset='test')):
        assert names(**kw) == names(use_musdb=True, **kw)

def test_loading_and_shapes(tiny):
    ds = md.TrainDataset(tiny, chunk_seconds=2.0, epoch_length=6, seed=0)
    b = md.collate_fn([ds[i] for i in range(3)])
    assert b.mixture.shape == (3, 2, 88200) and set(b.sources) == set(STEMS)
    assert torch.allclose(b.mixture, sum(b.sources.values()), atol=1e-6)
    two = md.TrainDataset(tiny, ('vocals', 'other'), chunk_seconds=1.0, epoch_length=2)[0]
    assert torch.allclose(two['mixture'], two['sources']['vocals'] + two['sources']['other'], atol=1e-6)
    te = md.TestDataset(tiny)
    it = te[0]
    assert it['mixture'].shape == (2, 264600)
    mix = torch.from_numpy(sf.read(te.tracks[0].file('mixture'), dtype='float32')[0].T)
    assert (it['mixture'] - mix).abs().max() <= 1 / 32768  # summed sources == mixture.wav within 1 LSB

def test_validation_is_deterministic(tiny):
    a, b = md.ValidDataset(tiny, chunk_seconds=2.0), md.ValidDataset(tiny, chunk_seconds=2.0)
    assert len(a) == 3
    for i in range(len(a)):
        assert torch.equal(a[i]['mixture'], b[i]['mixture']) and a[i]['name'] == b[i]['name']
    # consecutive 2-s chunks of the one validation track, each the files' own samples
    t = a.tracks[0]
    assert [a[i]['name'] for i in range(3)] == [f"{t.name}@{k * 88200}" for k in range(3)]
    it = a[1]
    assert torch.equal(it['sources']['vocals'], md.read_chunk(t.file('vocals'), 88200, 88200))
    assert torch.allclose(it['mixture'], sum(it['sources'].values()), atol=1e-6)

def test_remix_changes_pairing(tiny):
    ds = md.TrainDataset(tiny, chunk_seconds=1.0, epoch_length=20, seed=0, remix=True)
    names = [ds[i]['name'] for i in range(20)]
    assert any(n.startswith('remix:') and len(set(n[6:].split('+'))) > 1 for n in names)
    plain = md.TrainDataset(tiny, chunk_seconds=1.0, epoch_length=5, seed=0, remix=False)
    assert all(not plain[i]['name'].startswith('remix:') for i in range(5))
    # the same index and seed give the same example; another seed does not
    assert torch.equal(ds[4]['mixture'], md.TrainDataset(tiny, chunk_seconds=1.0, epoch_length=20, seed=0)[4]['mixture'])
    assert not torch.equal(ds[4]['mixture'], md.TrainDataset(tiny, chunk_seconds=1.0, epoch_length=20, seed=1)[4]['mixture'])

def test_augmentations_keep_sum(tiny):
    for aug in (md.Augment(time_stretch=(0.9, 1.1)), md.Augment(pitch_shift=(-2, 2)), md.Augment(gain=(0.7, 1.3)),
                md.Augment((0.9, 1.1), (-2, 2), (0.7, 1.3))):
        ds = md.TrainDataset(tiny, ('vocals', 'other'), chunk_seconds=1.0, epoch_length=3, augment=aug, gain=(0.5, 1.2))
        for i in range(3):
            it = ds[i]
            assert it['mixture'].shape == (2, 44100)
            assert torch.allclose(it['mixture'], sum(it['sources'].values()), atol=1e-5)
    # the gain really applies: the same draws with gain 2 instead of 1 give exactly twice the sources
    one, two = (md.TrainDataset(tiny, chunk_seconds=1.0, epoch_length=2, augment=md.Augment(gain=(g, g)))[1] for g in (1.0, 2.0))
    assert all(torch.equal(two['sources'][s], 2 * one['sources'][s]) for s in one['sources'])

def test_metrics_bounds(tiny):
    it = md.TestDataset(tiny)[0]
    v = it['sources']['vocals']
    assert float(mm.usdr(v, it['mixture'])) < float(mm.usdr(v, v))
    assert abs(float(mm.usdr(v, 0.5 * v)) - 10 * np.log10(4)) < 1e-4  # error of half the source: 6.02 dB
    assert float(mm.usdr(v, torch.zeros_like(v))) < 1e-6  # silence as the estimate: 0 dB

def test_same_seed_identical_files_via_cli(tiny, tmp_path):
    out = tmp_path / 'again'
    r = subprocess.run(CLI + ['--root', str(out), '--n-train', '3', '--n-test', '1', '--n-valid', '1',
                              '--duration', '6', '--seed', '11'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert _md5s(out) == _md5s(tiny)
    assert (out / 'setup.yaml').read_bytes() == (tiny / 'setup.yaml').read_bytes()
    assert (out / 'metadata.json').read_bytes() == (tiny / 'metadata.json').read_bytes()

def test_cli_refuses_non_empty_root(tiny):
    r = subprocess.run(CLI + ['--root', str(tiny), '--n-train', '1', '--n-valid', '0'], capture_output=True, text=True)
    assert r.returncode == 2 and 'folder is not empty; pass --overwrite' in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1

def test_cli_missing_tools(tmp_path):
    env = {**os.environ, 'PATH': str(tmp_path)}  # no fluidsynth, no espeak-ng on PATH
    r = subprocess.run(CLI + ['--root', str(tmp_path / 'x')], capture_output=True, text=True, env=env)
    assert r.returncode == 2, r.stderr
    assert 'fluidsynth program was not found' in r.stderr and 'apt-get install -y' in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / 'x').exists()

def test_cli_bad_arguments(tmp_path):
    r = subprocess.run(CLI + ['--root', str(tmp_path / 'y'), '--n-train', '1', '--n-valid', '2'], capture_output=True, text=True)
    assert r.returncode == 2 and 'n_valid (2) cannot exceed n_train (1)' in r.stderr
    r = subprocess.run(CLI, capture_output=True, text=True)
    assert r.returncode == 2 and '--root is required' in r.stderr
    r = subprocess.run(CLI + ['--root', str(tmp_path / 'z'), '--vocals', 'rap'], capture_output=True, text=True)
    assert r.returncode == 2 and "vocals must be 'sung' or 'gm'" in r.stderr

def test_missing_espeak_is_reported_by_api(monkeypatch):
    monkeypatch.setattr(ms.shutil, 'which', lambda p: None if p == 'espeak-ng' else '/usr/bin/' + p)
    with pytest.raises(ms.SynthDependencyError, match='espeak-ng program'): ms.check_tools('sung', which=ms.shutil.which)

def test_gm_vocals_track():
    song = ms.find_songs()[1]
    stems, meta = ms.make_track(song, 4.0, np.random.default_rng(0), vocals='gm')
    assert meta['vocals'] == 'gm' and meta['programs']['lead_gm'] in (52, 53, 54) and meta['voice'] is None
    assert set(stems) == set(STEMS) and all(x.shape == (2, 176400) for x in stems.values())
    assert np.abs(stems['vocals']).max() > 1e-3

def test_examples_do_not_depend_on_worker_count(tiny):
    from torch.utils.data import DataLoader
    ds = md.TrainDataset(tiny, chunk_seconds=0.5, epoch_length=6, seed=3)
    get = lambda w: [b.mixture for b in DataLoader(ds, batch_size=2, num_workers=w, collate_fn=md.collate_fn)]
    a, b = get(0), get(2)
    assert all(torch.equal(x, y) for x, y in zip(a, b)) and len(a) == 3
