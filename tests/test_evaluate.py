"End-to-end tests of `mss.evaluate` and `mss-evaluate`: a tiny synthetic MUSDB18-HQ-layout set, a tiny random SCNet, each bad input."
import json, shutil, subprocess, sys
import pytest, torch
from mss.audio import save_audio, load_audio
from mss.data import TestDataset as MusdbTracks  # (renamed: pytest would try to collect a Test* class)
from mss.evaluate import evaluate, summarize
from mss.models import load_config

SR = 44100

# The console script `mss-evaluate` runs `mss.cli:evaluate_cli`; where it is not installed yet (an editable install
# made before the entry point existed), the same entry point is called through the interpreter.
EXE = shutil.which('mss-evaluate')
CMD = [EXE] if EXE else [sys.executable, '-c', 'import sys; sys.argv[0] = "mss-evaluate"; from mss.cli import evaluate_cli; evaluate_cli()']

TINY = """model_type: scnet
model:
  stems: [vocals, other]
  dims: [4, 8, 16, 32]
  num_dplayer: 2
inference:
  chunk_size_seconds: 1.0
  hop_size_seconds: 0.5
  batch_size: 2
  derived_stems:
    - {operation: subtract, name: accompaniment, stem_name: mixture, by_stem_name: vocals}
"""

def run(*args, cwd=None):
    return subprocess.run([*CMD, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=900)

def make_musdb(root, n_test=2, seconds=1.6, seed=0):
    "Tones and a little noise per stem, in the MUSDB18-HQ layout (one train track so the layout is complete)."
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * SR)) / SR
    for subset, n in (('train', 1), ('test', n_test)):
        for k in range(n):
            d = root / subset / f'Artist {k} - Song'
            src = {s: 0.2 * torch.sin(2 * torch.pi * f * (1 + 0.05 * k) * t) + 0.02 * torch.randn(2, len(t), generator=g)
                   for s, f in zip(('vocals', 'drums', 'bass', 'other'), (880, 3000, 110, 440))}
            for s, x in src.items(): save_audio(d / f'{s}.wav', x, SR, subtype='FLOAT')
            save_audio(d / 'mixture.wav', sum(src.values()), SR, subtype='FLOAT')
    return root

@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp('eval')
    make_musdb(d / 'musdb')
    (d / 'tiny.yaml').write_text(TINY)
    torch.manual_seed(0)
    model = load_config(d / 'tiny.yaml').build()
    torch.save({'state_dict': model.state_dict()}, d / 'tiny.ckpt')
    return d

def test_end_to_end_and_resume(setup):
    d = setup
    args = ['--config', d / 'tiny.yaml', '--checkpoint', d / 'tiny.ckpt', '--data-root', d / 'musdb', '--out', d / 'ev',
            '--save-audio', '--device', 'cpu']  # the default metric backend: torch
    r = run(*args)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in (d / 'ev').iterdir())
    assert names == ['Artist 0 - Song', 'Artist 0 - Song.json', 'Artist 1 - Song', 'Artist 1 - Song.json',
                     'evaluation.json', 'summary.json', 'summary.md'], names
    assert sorted(p.name for p in (d / 'ev' / 'Artist 1 - Song').iterdir()) == ['accompaniment.wav', 'other.wav', 'vocals.wav']
    rec = json.loads((d / 'ev' / 'Artist 1 - Song.json').read_text())
    assert set(rec['stems']) == {'vocals', 'other', 'accompaniment'}
    assert set(rec['stems']['other']) == {'uSDR', 'SI-SDR', 'SDR', 'ISR', 'SIR', 'SAR'}
    assert rec['groups'] == [['vocals', 'other'], ['vocals', 'accompaniment']]
    assert abs(rec['duration'] - 1.6) < 1e-9 and rec['separation_time'] > 0 and rec['metric_time'] > 0
    assert rec['metric_backend'] == 'torch'
    # the scored estimate is the written WAV; its uSDR is recomputed from the files
    from mss.metrics import usdr
    est, _ = load_audio(d / 'ev' / 'Artist 1 - Song' / 'accompaniment.wav')
    mix, _ = load_audio(d / 'musdb' / 'test' / 'Artist 1 - Song' / 'mixture.wav')
    voc, _ = load_audio(d / 'musdb' / 'test' / 'Artist 1 - Song' / 'vocals.wav')
    assert abs(rec['stems']['accompaniment']['uSDR'] - float(usdr(mix - voc, est))) < 1e-3
    table = (d / 'ev' / 'summary.md').read_text()
    assert r.stdout == table
    assert '| cSDR (median over tracks) |' in table and 'uSDR (mean over tracks)' in table and '| accompaniment (derived) |' in table
    summ = json.loads((d / 'ev' / 'summary.json').read_text())
    assert summ['tracks'] == 2 and summ['missing'] == []
    # run again: resume, nothing recomputed, the same table
    before = {p.name: p.stat().st_mtime_ns for p in (d / 'ev').glob('*.json') if p.name.startswith('Artist')}
    r2 = run(*args)
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout == table
    assert before == {p.name: p.stat().st_mtime_ns for p in (d / 'ev').glob('*.json') if p.name.startswith('Artist')}
    # other weights in the same folder: refused until --overwrite
    torch.manual_seed(1)
    torch.save(load_config(d / 'tiny.yaml').build().state_dict(), d / 'other.ckpt')
    args2 = [a if a != d / 'tiny.ckpt' else d / 'other.ckpt' for a in args]
    r3 = run(*args2)
    assert r3.returncode == 2 and 'holds an evaluation with other settings (weights_sha256 differ)' in r3.stderr, r3.stderr
    assert r3.stderr.count('\n') == 1 and 'Traceback' not in r3.stderr
    r4 = run(*args2, '--overwrite')
    assert r4.returncode == 0, r4.stderr
    assert json.loads((d / 'ev' / 'Artist 1 - Song.json').read_text())['fingerprint'] != rec['fingerprint']

def test_baseline_command(setup, tmp_path):
    d = setup
    r = run('--baseline', 'mixture', '--data-root', d / 'musdb', '--out', tmp_path / 'mix', '--metric-backend', 'museval')
    assert r.returncode == 0, r.stderr
    summ = json.loads((tmp_path / 'mix' / 'summary.json').read_text())
    assert list(summ['stems']) == ['vocals', 'drums', 'bass', 'other'] and summ['fingerprint']['separator'] == 'baseline:mixture'

@pytest.fixture(scope='module')
def bad_files(setup):
    d = setup
    (d / 'unknown_type.yaml').write_text(TINY.replace('model_type: scnet', 'model_type: scnett'))
    (d / 'misspelt.yaml').write_text(TINY.replace('num_dplayer', 'num_dplayers'))
    (d / 'guitar.yaml').write_text(TINY.replace('stems: [vocals, other]', 'stems: [vocals, guitar]'))
    (d / 'not_musdb').mkdir(exist_ok=True); (d / 'not_musdb' / 'song.wav').write_text('x')
    (d / 'taken').mkdir(exist_ok=True); (d / 'taken' / 'notes.txt').write_text('mine')
    (d / 'tfswa.yaml').write_text("model_type: tfswa_unet\nmodel: {channels: [4, 8], attn_stages: [1], bottleneck_blocks: 1, head_dim: 4, n_freq: 2048}\n")
    torch.save(load_config(d / 'tfswa.yaml').build().state_dict(), d / 'tfswa.ckpt')
    return d

@pytest.mark.parametrize('args,message', [
    (['--config', 'CFG', '--checkpoint', 'CKPT', '--data-root', 'D/nowhere', '--out', 'D/o1'], 'nowhere: dataset root does not exist.'),
    (['--config', 'CFG', '--checkpoint', 'CKPT', '--data-root', 'D/not_musdb', '--out', 'D/o2'], 'not_musdb: not a MUSDB18 layout'),
    (['--config', 'D/unknown_type.yaml', '--checkpoint', 'CKPT', '--data-root', 'D/musdb', '--out', 'D/o3'], "unknown model type 'scnett'"),
    (['--config', 'D/misspelt.yaml', '--checkpoint', 'CKPT', '--data-root', 'D/musdb', '--out', 'D/o4'], "unknown key(s) 'num_dplayers'"),
    (['--config', 'D/guitar.yaml', '--checkpoint', 'D/guitar.ckpt', '--data-root', 'D/musdb', '--out', 'D/o5'], 'stem(s) guitar are not in the data'),
    (['--config', 'CFG', '--checkpoint', 'D/tfswa.ckpt', '--data-root', 'D/musdb', '--out', 'D/o6'], 'tfswa.ckpt does not fit SCNet'),
    (['--config', 'CFG', '--checkpoint', 'CKPT', '--data-root', 'D/musdb', '--out', 'D/taken'], 'taken: exists and is not an mss evaluation folder'),
    (['--config', 'CFG', '--checkpoint', 'D/missing.ckpt', '--data-root', 'D/musdb', '--out', 'D/o7'], 'missing.ckpt: no such checkpoint file'),
    (['--config', 'CFG', '--data-root', 'D/musdb', '--out', 'D/o8'], '--config without --checkpoint would evaluate with random weights'),
    (['--model', 'nope', '--data-root', 'D/musdb', '--out', 'D/o10'], "no shipped separator is called 'nope'"),
    (['--config', 'CFG', '--checkpoint', 'CKPT', '--data-root', 'D/musdb', '--out', 'D/o9', '--metric-backend', 'fast'], '--metric-backend must be torch or museval'),
    (['--config', 'CFG', '--checkpoint', 'CKPT', '--data-root', 'D/musdb', '--out', 'D/o9', '--jobs', '0'], '--jobs must be >= 1'),
])
def test_bad_input(bad_files, args, message):
    d = bad_files
    if 'guitar' in str(args):  # a checkpoint that fits the guitar config, so the stems are what fails
        torch.save(load_config(d / 'guitar.yaml').build().state_dict(), d / 'guitar.ckpt')
    subst = {'CFG': str(d / 'tiny.yaml'), 'CKPT': str(d / 'tiny.ckpt')}
    argv = [subst.get(a, a.replace('D/', f'{d}/', 1) if a.startswith('D/') else a) for a in args]
    r = run(*argv)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith('mss-evaluate: error: ') and r.stderr.count('\n') == 1, r.stderr
    assert message in r.stderr, r.stderr
    assert 'Traceback' not in r.stderr

def test_debug_shows_the_traceback(bad_files):
    d = bad_files
    r = run('--config', d / 'misspelt.yaml', '--checkpoint', d / 'tiny.ckpt', '--data-root', d / 'musdb', '--out', d / 'o', '--debug')
    assert r.returncode != 0 and 'Traceback' in r.stderr

def test_jobs_give_the_same_records(setup, tmp_path):
    ds = MusdbTracks(setup / 'musdb', ('vocals', 'other'))
    one = evaluate('irm', ds, tmp_path / 'one', metric_backend='museval')
    two = evaluate('irm', ds, tmp_path / 'two', metric_backend='museval', jobs=2)
    for n in one.tracks:
        assert one.tracks[n]['stems'] == two.tracks[n]['stems'] and one.tracks[n]['frames'] == two.tracks[n]['frames']
    assert one.summary['stems'] == two.summary['stems']

def _rank(rank, world, init, root, out, q):
    import torch.distributed as dist
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'file://{init}', rank=rank, world_size=world)
    try:
        res = evaluate('mixture', MusdbTracks(root, ('vocals', 'other')), out)
        q.put((rank, sorted(res.tracks), res.summary))
    finally: dist.destroy_process_group()

def test_two_gloo_ranks(setup, tmp_path):
    "Two ranks under a gloo process group shard the tracks; rank 0's summary equals one process's."
    import torch.multiprocessing as mp
    ctx = mp.get_context('spawn')
    q = ctx.Queue()
    ps = [ctx.Process(target=_rank, args=(r, 2, tmp_path / 'init', setup / 'musdb', tmp_path / 'ranks', q)) for r in range(2)]
    for p in ps: p.start()
    got = {}
    for _ in ps:
        r, tracks, summary = q.get(timeout=600)
        got[r] = (tracks, summary)
    for p in ps: p.join(60); assert p.exitcode == 0
    names = ['Artist 0 - Song', 'Artist 1 - Song']
    assert got[0][0] == names and got[1][0] == names  # gathered: every rank holds every record
    assert got[1][1] is None
    single = evaluate('mixture', MusdbTracks(setup / 'musdb', ('vocals', 'other')), tmp_path / 'single')
    assert got[0][1]['stems'] == single.summary['stems']
    assert summarize(tmp_path / 'ranks').summary['stems'] == single.summary['stems']

def test_backends_agree(setup, tmp_path):
    "The fast BSSEval (torch) and museval give the same per-window values on the same estimates (all four stems jointly)."
    ds = MusdbTracks(setup / 'musdb')
    fast = evaluate('irm', ds, tmp_path / 'torch')
    ref = evaluate('irm', ds, tmp_path / 'museval', metric_backend='museval')
    for n, rec in fast.tracks.items():
        for s, d in rec['frames'].items():
            for m, v in d.items():
                w = ref.tracks[n]['frames'][s][m]
                assert [x is None for x in v] == [x is None for x in w]
                assert max(abs(a - b) for a, b in zip(v, w) if a is not None) < 1e-6, (n, s, m)

def test_shipped_separator_is_the_default(setup):
    "No --config: mss-evaluate scores the separator shipped in the package, on its four stems."
    d = setup
    r = run('--data-root', d / 'musdb', '--out', d / 'ev_default')
    assert r.returncode == 0, r.stderr
    assert 'using the shipped separator scnet-synth' in r.stderr
    rec = json.loads((d / 'ev_default' / 'Artist 0 - Song.json').read_text())
    assert set(rec['stems']) == {'vocals', 'drums', 'bass', 'other'}
