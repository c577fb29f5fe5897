"End-to-end tests of `mss-separate`: a synthetic song, a tiny random SCNet in mss and MSST formats, and bad input."
import shutil, subprocess
import pytest, torch
from mss.audio import save_audio, load_audio
from mss.models import load_config

EXE = shutil.which('mss-separate')
pytestmark = pytest.mark.skipif(EXE is None, reason='mss-separate is not installed (pip install -e .)')

TINY = """model_type: scnet
model:
  dims: [4, 8, 16, 32]
  num_dplayer: 2
inference:
  chunk_size_seconds: 1.0
  hop_size_seconds: 0.5
  batch_size: 2
  derived_stems:
    - {operation: subtract, name: instrumental, stem_name: mixture, by_stem_name: vocals}
"""

def run(*args, cwd=None):
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)

@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp('cli')
    (d / 'tiny.yaml').write_text(TINY)
    torch.manual_seed(0)
    model = load_config(d / 'tiny.yaml').build()
    torch.save({'state_dict': {'module.' + k: v for k, v in model.state_dict().items()}}, d / 'tiny.ckpt')
    sr = 44100
    t = torch.arange(int(2.3 * sr)) / sr
    song = torch.stack([0.3 * torch.sin(2 * torch.pi * 220 * t), 0.2 * torch.sin(2 * torch.pi * 330 * t)])
    save_audio(d / 'songs' / 'first song.wav', song, sr)
    save_audio(d / 'songs' / 'track two' / 'mixture.wav', song[:, : sr], sr)
    save_audio(d / 'mono.flac', song[0, : sr // 2], 22050)
    return d, model

def test_separates_files_and_folders(setup):
    d, model = setup
    r = run(d / 'songs', d / 'mono.flac', '--config', d / 'tiny.yaml', '--checkpoint', d / 'tiny.ckpt', '--out', d / 'out',
            '--batch-size', 3, '--overlap', 0.75, '--device', 'cpu', '--float32', '--backend', 'torchscript')
    assert r.returncode == 0, r.stderr
    for track, n in (('first song', int(2.3 * 44100)), ('track two', 44100), ('mono', 44100)):
        names = sorted(p.name for p in (d / 'out' / track).iterdir())
        assert names == ['bass.wav', 'drums.wav', 'instrumental.wav', 'other.wav', 'vocals.wav'], names
        v, sr = load_audio(d / 'out' / track / 'vocals.wav')
        assert sr == 44100 and v.shape == (2, n)
    # the written stems are what the eager model gives through the overlap-add processor (hop = chunk * (1 - 0.75)):
    # the network ran as TorchScript (--backend torchscript) and matches
    from mss.ola import OverlapAddProcessor
    mix, _ = load_audio(d / 'songs' / 'track two' / 'mixture.wav')
    with torch.no_grad(): ref = OverlapAddProcessor(1.0, 0.25, 44100).process(model.eval(), mix, batch_size=3)
    got, _ = load_audio(d / 'out' / 'track two' / 'drums.wav')
    assert torch.allclose(got, ref['drums'], atol=1e-5)
    inst, _ = load_audio(d / 'out' / 'track two' / 'instrumental.wav')
    voc, _ = load_audio(d / 'out' / 'track two' / 'vocals.wav')
    assert torch.allclose(inst, mix - voc, atol=1e-6)

def test_selected_stems_and_msst_config(setup, tmp_path):
    d, model = setup
    msst = tmp_path / 'config_musdb18_scnet_tiny.yaml'
    msst.write_text("""audio: {chunk_size: 44100, num_channels: 2, sample_rate: 44100}
model: {sources: [drums, bass, other, vocals], dims: [4, 8, 16, 32], num_dplayer: 2}
training: {instruments: [drums, bass, other, vocals], target_instrument: null}
inference: {batch_size: 1, num_overlap: 2, normalize: false}
""")
    r = run(d / 'songs' / 'first song.wav', '--config', msst, '--checkpoint', d / 'tiny.ckpt', '--out', tmp_path / 'o',
            '--stems', 'vocals,drums')
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / 'o' / 'first song').iterdir()) == ['drums.wav', 'vocals.wav']

@pytest.mark.parametrize('args,message', [
    (['nowhere.wav', '--config', 'CFG', '--random-weights'], 'nowhere.wav: no such file or folder'),
    ([], 'give at least one audio file or folder to separate'),
    (['SONGS', '--config', 'CFG'], '--config without --checkpoint would separate with random weights; give --checkpoint, or --random-weights'),
    (['SONGS', '--checkpoint', 'CKPT'], '--checkpoint needs --config'),
    (['SONGS', '--random-weights'], '--random-weights needs --config'),
    (['SONGS', '--config', 'CFG', '--checkpoint', 'CKPT', '--random-weights'], '--random-weights contradicts --checkpoint'),
    (['SONGS', '--model', 'scnet-synth', '--config', 'CFG', '--checkpoint', 'CKPT'], 'give --model (a shipped separator) or --config'),
    (['SONGS', '--model', 'scnet-huge'], "no shipped separator is called 'scnet-huge'; shipped: scnet-synth"),
    (['SONGS', '--config', 'missing.yaml', '--random-weights'], 'missing.yaml: no such config file'),
    (['SONGS', '--config', 'CFG', '--checkpoint', 'nope.ckpt'], 'nope.ckpt: no such checkpoint file'),
    (['SONGS', '--config', 'CFG', '--random-weights', '--stems', 'vocals,guitar'], 'unknown stem(s) guitar'),
    (['SONGS', '--stems', 'vocals,guitar'], 'unknown stem(s) guitar; this model gives vocals, drums, bass, other'),
    (['SONGS', '--config', 'CFG', '--random-weights', '--overlap', '1.5'], '--overlap must be in [0, 1)'),
    (['SONGS', '--config', 'CFG', '--random-weights', '--batch-size', '0'], '--batch-size must be >= 1'),
    (['SONGS', '--config', 'CFG', '--random-weights', '--backend', 'onnx'], "--backend must be eager, torchscript or auto, got 'onnx'"),
    (['NOTAUDIO', '--config', 'CFG', '--random-weights'], 'not a readable audio file'),
])
def test_bad_input_one_line_exit_2(setup, tmp_path, args, message):
    d, _ = setup
    (tmp_path / 'notes.wav').write_text('not audio')
    sub = {'SONGS': d / 'songs', 'CFG': d / 'tiny.yaml', 'CKPT': d / 'tiny.ckpt', 'NOTAUDIO': tmp_path / 'notes.wav'}
    r = run(*[sub.get(a, a) for a in args], '--out', tmp_path / 'o', cwd=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert message in r.stderr, r.stderr
    errors = [l for l in r.stderr.strip().splitlines() if 'using the shipped separator' not in l]
    assert 'Traceback' not in r.stderr and len(errors) == 1 and errors[0].startswith('mss-separate: error: '), r.stderr

def test_no_overwrite_without_flag(setup, tmp_path):
    d, _ = setup
    args = [d / 'songs' / 'track two' / 'mixture.wav', '--config', d / 'tiny.yaml', '--random-weights', '--out', tmp_path / 'o']
    assert run(*args).returncode == 0
    before = (tmp_path / 'o' / 'track two' / 'vocals.wav').stat().st_mtime_ns
    r = run(*args)
    assert r.returncode == 2 and 'exists; pass --overwrite' in r.stderr
    assert (tmp_path / 'o' / 'track two' / 'vocals.wav').stat().st_mtime_ns == before
    assert run(*args, '--overwrite').returncode == 0
    assert not [p for p in (tmp_path / 'o' / 'track two').iterdir() if p.name.startswith('.')]   # no temporary files left

def test_debug_shows_traceback(setup, tmp_path):
    d, _ = setup
    r = run(d / 'songs', '--config', tmp_path / 'missing.yaml', '--random-weights', '--debug')
    assert r.returncode != 0 and 'Traceback' in r.stderr

def test_shipped_separator_is_the_default(setup, tmp_path):
    "No --config: the separator shipped in the package, named on stderr; its four stems at the input's length and rate."
    d, _ = setup
    r = run(d / 'mono.flac', '--out', tmp_path / 'o')
    assert r.returncode == 0, r.stderr
    assert 'mss-separate: using the shipped separator scnet-synth' in r.stderr
    assert sorted(p.name for p in (tmp_path / 'o' / 'mono').iterdir()) == ['bass.wav', 'drums.wav', 'other.wav', 'vocals.wav']
    v, sr = load_audio(tmp_path / 'o' / 'mono' / 'vocals.wav')
    assert sr == 44100 and v.shape == (2, 44100)
    # the same weights, chosen by name
    assert run(d / 'mono.flac', '--model', 'scnet-synth', '--out', tmp_path / 'o', '--overwrite').returncode == 0
    v2, _ = load_audio(tmp_path / 'o' / 'mono' / 'vocals.wav')
    assert torch.equal(v, v2)

def test_list_models():
    r = run('--list-models')
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('scnet-synth (default): masked SCNet') and 'MODEL_CARD.md' in r.stdout

def test_random_weights_on_request(setup, tmp_path):
    d, _ = setup
    r = run(d / 'mono.flac', '--config', d / 'tiny.yaml', '--random-weights', '--out', tmp_path / 'o')
    assert r.returncode == 0, r.stderr
    assert (tmp_path / 'o' / 'mono' / 'instrumental.wav').is_file()
