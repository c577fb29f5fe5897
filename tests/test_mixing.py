"""Mixing (issue 5): mss-train-encoder command line, the shipped encoder on held-out songs, property tests."""
import shutil, subprocess, sys
from pathlib import Path
import pytest, torch
from hypothesis import given, settings, strategies as st
from mss import features as mf, encoder as me, mixer as mm, synth as ms

torch.set_num_threads(1)

def _cli(tmp_path, *args):
    exe = shutil.which('mss-train-encoder')
    if exe: cmd = [exe, *args]
    else:
        script = tmp_path / 'train_encoder.py'
        script.write_text('from mss.cli import train_encoder_cli\ntrain_encoder_cli()\n')
        cmd = [sys.executable, str(script), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)

def test_cli_bad_arguments_exit_2(tmp_path):
    r = _cli(tmp_path, '--out', str(tmp_path / 'run'), '--steps', '0')
    assert r.returncode == 2 and '--steps must be >= 1' in r.stderr and 'Traceback' not in r.stderr
    r = _cli(tmp_path, '--out', str(tmp_path / 'run'), '--root', str(tmp_path / 'missing'))
    assert r.returncode == 2 and 'does not exist' in r.stderr
    r = _cli(tmp_path, '--out', str(tmp_path / 'run'), '--seconds', '0.01')
    assert r.returncode == 2 and '--seconds must be at least' in r.stderr
    r = _cli(tmp_path, '--out', str(tmp_path / 'run'), '--hard', '1.5')
    assert r.returncode == 2 and '--hard must be in [0, 1]' in r.stderr
    r = _cli(tmp_path, '--out', str(tmp_path / 'run'), '--exclude', str(tmp_path))
    assert r.returncode == 2 and '--exclude needs --root' in r.stderr
    r = _cli(tmp_path, '--out', str(tmp_path / 'run'), '--root', str(tmp_path), '--exclude', str(tmp_path / 'titles.txt'))
    assert r.returncode == 2 and 'titles.txt: no such file or folder' in r.stderr

def test_cli_trains_and_resumes(tmp_path):
    out = tmp_path / 'run'
    common = ['--out', str(out), '--batch', '2', '--width', '2', '--seconds', '0.5', '--pool', '2', '--no_progress', '--checkpoint_every', '1']
    r = _cli(tmp_path, *common, '--steps', '2', '--ship', str(tmp_path / 'enc.pt'))
    assert r.returncode == 0, r.stderr
    assert torch.load(out / 'last.pt', weights_only=False)['step'] == 2
    enc = me.MixingStyleEncoder.from_pretrained(tmp_path / 'enc.pt')
    assert enc.config['width'] == 2
    r = _cli(tmp_path, *common, '--steps', '3')
    assert r.returncode == 0, r.stderr
    assert torch.load(out / 'last.pt', weights_only=False)['step'] == 3

def test_shipped_encoder_heldout_retrieval():
    enc = me.MixingStyleEncoder.from_pretrained()
    res = me.retrieval_accuracy(enc, me.SyntheticSongs('heldout', 10.0, pool=6, refresh=0, seed=900), n=6, seed=11)
    assert res['pair_accuracy'] >= 0.8, res  # chance 0.5
    assert res['same_song_accuracy'] >= 0.8, res

@pytest.fixture(scope='module')
def heldout_generated(tmp_path_factory):
    """6 songs (10 s) from the data generator (`mss.synth`) whose titles were held out of the shipped encoder's training:
    the test titles of `mss-make-dataset --n_train 32 --n_test 8 --seed 0`, listed first in bench/encoder_heldout_titles.txt."""
    import numpy as np
    try: ms.check_tools('sung')
    except OSError as e: pytest.skip(f"synthesis tools missing: {e}")
    root = ms.make_dataset(tmp_path_factory.mktemp('gen') / 'gen', n_train=0, n_test=6, n_valid=0, duration=10.0, seed=0)
    train_titles = {s.name for s in ms._split_songs(ms.find_songs(), 32, 8, np.random.default_rng(0))[0]}
    test_titles = {p.name for p in (root / 'test').iterdir()}
    assert len(test_titles) == 6 and not test_titles & train_titles, test_titles & train_titles
    listed = (Path(__file__).parents[1] / 'bench' / 'encoder_heldout_titles.txt').read_text()
    assert all(t in listed.splitlines() for t in test_titles), test_titles  # also held out of the retrained encoder
    return root

def test_shipped_encoder_generated_heldout_songs(heldout_generated):
    enc = me.MixingStyleEncoder.from_pretrained()
    res = me.retrieval_accuracy(enc, me.FolderSongs(heldout_generated, 10.0, split='test'), n=6, seed=3)
    print(res)
    assert res['pair_accuracy'] >= 0.8, res  # chance 0.5
    assert res['same_song_accuracy'] >= 0.8, res

def test_shipped_encoder_sees_stem_gains(heldout_generated):
    """Floor of issue 14: +6 dB on one stem must move the shipped embedding, relative to the distance between two songs under
    the same setting, at least half as much as it moves MF-56 (the first shipped encoder was at about 1/100)."""
    from mss.audio import load_audio
    songs = [{k: load_audio(d / f'{k}.wav', 44100, 2)[0] for k in mf.MF56_STEMS} for d in sorted((heldout_generated / 'test').iterdir())]
    gains = [0, 1, 2, 3]  # vocals, bass, drums, other .gain_db in `control_names()`
    emb = me.control_sensitivity(me.MixingStyleEncoder.from_pretrained(), songs, controls=gains, curve_db=())
    feat = me.control_sensitivity('features', songs, controls=gains, curve_db=())
    print({n: (round(e, 4), round(f, 4)) for n, e, f in zip(emb['controls'], emb['ratio'], feat['ratio'])})
    for n, e, f in zip(emb['controls'], emb['ratio'], feat['ratio']): assert e >= 0.5 * f, (n, e, f)

@settings(max_examples=8, deadline=None)
@given(n=st.integers(2048, 12000), gains=st.lists(st.sampled_from([0.0, 1e-3, 0.5, 1.0]), min_size=4, max_size=4))
def test_features_finite_and_mixer_identity(n, gains):
    song = ms.toy_song(1, 1.5, 8000)
    stems = {k: v[:, :n] * g for (k, v), g in zip(song.items(), gains)}
    x = {k: v.clone().requires_grad_(True) for k, v in stems.items()}
    f = mf.mixing_features(x, 8000)
    f.sum().backward()
    assert f.shape == (56,) and torch.isfinite(f).all()
    assert all(torch.isfinite(v.grad).all() for v in x.values())
    out, mix = mm.TCNMixer(tuple(stems), 8000, receptive_field=0.3, hidden=8)(stems)
    for k in stems: assert (out[k] - stems[k]).abs().max() <= 1e-6
    assert (mix - sum(out.values())).abs().max() <= 1e-5
    assert (mix - sum(stems.values())).abs().max() <= 1e-5  # the identity mixer's mixture is the input mixture
