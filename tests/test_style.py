"End-to-end tests of `mss-style-transfer`, `python -m mss.style` and `run_e2e_inference.sh`: outputs, each bad input, argument pass-through."
import json, os, shutil, subprocess, sys
from pathlib import Path
import pytest, torch
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
EXE = shutil.which('mss-style-transfer')
CMD = [EXE] if EXE else [sys.executable, '-m', 'mss.style']
SHIPPED = ROOT / 'mss' / 'assets' / 'separator'
LAYOUT = sorted(['input_original.wav', 'target_original.wav', 'output_transferred.wav', 'metrics.json']
                + [f'{d}/{k}.wav' for d in ('input_stems', 'target_stems') for k in ('bass', 'drums', 'other', 'vocals')])

def run(*args, cmd=CMD, **kw):
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=600, **kw)

def files(d): return sorted(str(p.relative_to(d)) for p in Path(d).rglob('*') if p.is_file())

@pytest.fixture(scope='module')
def songs(tmp_path_factory):
    from mss.synth import toy_song
    d = tmp_path_factory.mktemp('style')
    for seed, name in ((1, 'a.wav'), (2, 'b.flac')):
        s = toy_song(seed, 3.0, 44100)
        sf.write(d / name, sum(s.values()).T.numpy(), 44100)
    sf.write(d / 'short.wav', torch.zeros(44100, 2).numpy(), 44100)
    (d / 'bad.wav').write_text('not audio')
    torch.save({'state_dict': {'a': torch.zeros(2)}}, d / 'other.ckpt')
    (d / 'full').mkdir(); (d / 'full' / 'x.txt').write_text('x')
    return d

def test_command_writes_the_layout(songs, tmp_path):
    out = tmp_path / 'out'
    r = run('--input_audio', songs / 'a.wav', '--target_audio', songs / 'b.flac', '--optimize_target', 'features',
            '--output_dir', out, '--num_steps', 4, '--segment_duration', 3, '--quiet', '--seed', 3)
    assert r.returncode == 0, r.stderr
    assert 'running on cpu' in r.stderr and 'feature distance' in r.stdout
    assert files(out) == LAYOUT
    m = json.loads((out / 'metrics.json').read_text())
    assert m['optimize_target'] == 'features' and m['seed'] == 3 and m['hyperparameters']['num_steps'] == 4
    assert [it['step'] for it in m['iterations']] == [0, 1, 2, 3, 4]
    assert m['input_audio'].endswith('a.wav') and m['target_audio'].endswith('b.flac')
    # a second run into the same folder needs --overwrite
    r = run('--input_audio', songs / 'a.wav', '--target_audio', songs / 'b.flac', '--optimize_target', 'features', '--output_dir', out)
    assert r.returncode == 2 and 'pass --overwrite' in r.stderr

def test_module_entry_point_and_an_explicit_msst_separator(songs, tmp_path):
    out = tmp_path / 'out'
    r = run('--input-audio', songs / 'a.wav', '--target-audio', songs / 'b.flac', '--optimize-target', 'embeddings',
            '--output-dir', out, '--num-steps', 2, '--segment-duration', 2, '--segment-offset', 0.5, '--quiet',
            '--scnet_model', SHIPPED / 'weights.pt', '--scnet_config', SHIPPED / 'config.yaml',
            cmd=[sys.executable, '-m', 'mss.style'])
    assert r.returncode == 0, r.stderr
    m = json.loads((out / 'metrics.json').read_text())
    assert m['optimize_target'] == 'embeddings' and m['separator'].endswith('weights.pt')
    assert m['segments']['input']['offset_s'] == 0.5 and abs(m['segments']['input']['duration_s'] - 2.0) < 1e-6

@pytest.mark.parametrize('args, message', [
    (['--input_audio', '{d}/missing.wav', '--target_audio', '{d}/b.flac', '--optimize_target', 'features'], 'missing.wav: no such audio file'),
    (['--input_audio', '{d}/bad.wav', '--target_audio', '{d}/b.flac', '--optimize_target', 'features'], 'bad.wav: not a readable audio file'),
    (['--input_audio', '{d}/a.wav', '--target_audio', '{d}/short.wav', '--optimize_target', 'features', '--segment_offset', '0.5'],
     'short.wav: the audio is 1.00 s long, shorter than the segment offset 0.5 s + 1 s'),
    (['--input_audio', '{d}/a.wav', '--target_audio', '{d}/b.flac', '--optimize_target', 'loudness'],
     "--optimize_target must be embeddings or features, got 'loudness'"),
    (['--input_audio', '{d}/a.wav', '--target_audio', '{d}/b.flac'], '--optimize_target is required'),
    (['--input_audio', '{d}/a.wav', '--target_audio', '{d}/b.flac', '--optimize_target', 'features', '--mixing_checkpoint', '{s}/weights.pt'],
     "weights.pt: not a mixing-style encoder checkpoint (no 'config' entry)"),
    (['--input_audio', '{d}/a.wav', '--target_audio', '{d}/b.flac', '--optimize_target', 'features', '--scnet_config', '{s}/config.yaml',
      '--scnet_model', '{d}/other.ckpt'], 'other.ckpt does not fit SCNetMasked: 329 missing key(s)'),
    (['--input_audio', '{d}/a.wav', '--target_audio', '{d}/b.flac', '--optimize_target', 'features', '--scnet_model', '{d}/other.ckpt'],
     'give --scnet_model and --scnet_config together'),
    (['--input_audio', '{d}/a.wav', '--target_audio', '{d}/b.flac', '--optimize_target', 'features', '--output_dir', '{d}/full'],
     'full: the output folder is not empty; pass --overwrite'),
])
def test_bad_input(songs, tmp_path, args, message):
    r = run(*[a.format(d=songs, s=SHIPPED) for a in args], '--num_steps', 1, '--output_dir' if '--output_dir' not in args else '--seed',
            tmp_path / 'o' if '--output_dir' not in args else 0)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    err = [l for l in r.stderr.strip().splitlines() if 'running on' not in l]
    assert len(err) == 1 and err[0].startswith('mss-style-transfer: error: ') and message in err[0], r.stderr
    assert not (tmp_path / 'o').exists() or not any((tmp_path / 'o').iterdir())  # nothing half-written

SCRIPT = ROOT / 'run_e2e_inference.sh'

@pytest.fixture
def stub_path(tmp_path):
    "A PATH whose mss-style-transfer prints its arguments, one per line."
    b = tmp_path / 'bin'; b.mkdir()
    (b / 'mss-style-transfer').write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n'); (b / 'mss-style-transfer').chmod(0o755)
    return dict(os.environ, PATH=f"{b}:{os.environ['PATH']}")

def test_helper_script_passes_its_arguments(stub_path):
    r = run('features', 'in put.wav', 'target.wav', 'out dir', 200, 0.003, '--', '--overwrite', '--seed', 4, cmd=[SCRIPT], env=stub_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ['--optimize_target', 'features', '--input_audio', 'in put.wav', '--target_audio', 'target.wav',
                                     '--output_dir', 'out dir', '--num_steps', '200', '--lr', '0.003', '--overwrite', '--seed', '4']
    r = run('embeddings', 'a.wav', 'b.wav', 'o', cmd=[SCRIPT], env=stub_path)
    assert r.stdout.splitlines()[-4:] == ['--num_steps', '500', '--lr', '0.001']  # the design's defaults

@pytest.mark.parametrize('args, message', [([], 'usage:'), (['a', 'b', 'c'], 'usage:'), (['bad', 'a', 'b', 'c'], "MODE must be embeddings or features, got 'bad'")])
def test_helper_script_refuses_bad_arguments(stub_path, args, message):
    r = run(*args, cmd=[SCRIPT], env=stub_path)
    assert r.returncode == 2 and message in r.stderr and r.stdout == ''

def test_helper_script_runs_the_command(songs, tmp_path):
    r = run('features', songs / 'a.wav', songs / 'b.flac', tmp_path / 'o', 2, 0.002, '--', '--quiet', '--segment_duration', 2, cmd=[SCRIPT])
    assert r.returncode == 0, r.stderr
    assert files(tmp_path / 'o') == LAYOUT
    m = json.loads((tmp_path / 'o' / 'metrics.json').read_text())
    assert m['hyperparameters']['num_steps'] == 2 and m['hyperparameters']['lr'] == 0.002
