"The jobs end to end: generate a tiny data set, `mss-train` a tiny SCNet on it, `mss-evaluate` the run's best checkpoint."
import json, shutil, subprocess, sys
import pytest, yaml
import mss.synth as ms

def _tools_ok():
    try: ms.check_tools('sung'); return True
    except OSError: return False

pytestmark = pytest.mark.skipif(not _tools_ok(), reason="synthesis tools missing (see mss.synth.APT_LINE)")

def cmd(name:str)->list:
    "The installed console script, or the same entry point through this interpreter (an editable install made before it existed)."
    exe = shutil.which(f'mss-{name}')
    fn = name.replace('-', '_') + '_cli'
    return [exe] if exe else [sys.executable, '-c', f'import sys; sys.argv[0] = "mss-{name}"; from mss.cli import {fn}; {fn}()']

def run(name, *args):
    return subprocess.run([*cmd(name), *map(str, args)], capture_output=True, text=True, timeout=900)

CONFIG = {'audio': {'chunk_size': 22050, 'sample_rate': 44100, 'num_channels': 2},
          'model': {'model_type': 'scnet', 'dims': [4, 8, 16], 'num_dplayer': 2, 'conv_depths': [1, 1, 1]},
          'training': {'instruments': ['vocals', 'drums', 'bass', 'other'], 'batch_size': 2, 'lr': 1e-3, 'num_epochs': 1,
                       'num_steps': 4, 'loss': ['l1', 'neg_sdr'], 'loss_weights': [1.0, 0.05], 'optimizer': 'adamw'},
          'inference': {'batch_size': 2, 'num_overlap': 2},
          'trainer': {'validate_every': 2, 'log_every': 1, 'valid_max_chunks': 2}}

def test_generate_train_evaluate(tmp_path):
    data, run_dir, ev = tmp_path / 'gen', tmp_path / 'run', tmp_path / 'eval'
    r = run('make-dataset', '--root', data, '--n-train', 2, '--n-valid', 1, '--n-test', 1, '--duration', 2.0, '--seed', 5)
    assert r.returncode == 0, r.stderr
    (tmp_path / 'c.yaml').write_text(yaml.safe_dump(CONFIG))
    r = run('train', '--config', tmp_path / 'c.yaml', '--data-root', data, '--out', run_dir, '--device', 'cpu')
    assert r.returncode == 0, r.stderr
    assert (run_dir / 'best.ckpt').exists() and (run_dir / 'config.yaml').exists()
    steps = [json.loads(l) for l in (run_dir / 'log.jsonl').read_text().splitlines()]
    assert any(s.get('kind') == 'valid' for s in steps), steps[-1]
    r = run('evaluate', '--config', run_dir / 'config.yaml', '--checkpoint', run_dir / 'best.ckpt', '--data-root', data,
            '--out', ev, '--device', 'cpu', '--save-audio')
    assert r.returncode == 0, r.stderr
    summary = json.loads((ev / 'summary.json').read_text())
    (track,) = [p for p in ev.glob('*.json') if p.name not in ('summary.json', 'evaluation.json')]
    rec = json.loads(track.read_text())
    assert set(rec['stems']) == {'vocals', 'drums', 'bass', 'other'}
    for s, m in rec['stems'].items():
        assert m['uSDR'] is not None and (ev / track.stem / f'{s}.wav').exists(), (s, m)
    assert (ev / 'summary.md').read_text().count('|') > 10 and summary
    # evaluating again resumes: nothing is separated twice
    r = run('evaluate', '--config', run_dir / 'config.yaml', '--checkpoint', run_dir / 'best.ckpt', '--data-root', data,
            '--out', ev, '--device', 'cpu', '--save-audio')
    assert r.returncode == 0, r.stderr
