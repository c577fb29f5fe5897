"""Mutation check: plant deliberate bugs in a temporary copy of the repository and see whether the tests catch them.

    python tools/mutants.py                 # every mutant (`make mutants`; about ten minutes of CPU)
    python tools/mutants.py --list          # the mutants and the tests that should catch them
    python tools/mutants.py --only usdr-eps-numerator ola-lerp-weight
    python tools/mutants.py --no-baseline   # skip checking that each test selection passes unmutated

Each mutant is one textual replacement in a generated module `mss/*.py` (the old text must occur there exactly once)
and the same replacement in the exported cells of the notebook that generates it (nbdev's "File to edit" header):
a notebook test runs its own definitions, so only mutating both lets the notebook's own tests see the bug, while the
other notebooks and the pytest files import the mutated package. The copy holds every file git tracks (from the
working tree, so uncommitted edits count). Tests run with PYTHONPATH pointing at the copy; the script checks that
`import mss` resolves there. For each mutant the test commands run in order until one fails ("caught"); a mutant
no command fails "survived". The exit status is 1 if any mutant survived or a test selection fails unmutated (or
selects no test). A mutant whose old text no longer occurs exactly once stops the run before anything runs.
"""
import argparse, json, os, re, shlex, shutil, subprocess, sys, tempfile, time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Mutant:
    name: str     # short id
    module: str   # generated module, relative to the repository root
    old: str      # text to replace (exactly once in the module and once in the notebook's exported cells)
    new: str      # the planted bug
    tests: tuple  # 'nb:nbs/X.ipynb' (nbdev_test, slow cells skipped) or 'py:<pytest arguments>'
    why: str = '' # what the bug means


NB_ = lambda n: f'nb:nbs/{n}.ipynb'
MUTANTS = [
    # ---- the six of issue 18, and its smaller items
    Mutant('loudness-relative-gate', 'mss/features.py', 'power_db(za) - 10)[..., None]', 'power_db(za) - 20)[..., None]',
           (NB_('40_features'),), 'BS.1770 relative gate at -20 LU instead of -10 LU'),
    Mutant('loudness-block-hop', 'mss/features.py', 'round(0.1 * sample_rate)', 'round(0.2 * sample_rate)',
           (NB_('40_features'),), 'loudness blocks hop 200 ms instead of 100 ms'),
    Mutant('usdr-eps-numerator', 'mss/metrics.py', 'num = ref.square().sum((-2, -1)) + eps', 'num = ref.square().sum((-2, -1))',
           (NB_('31_metrics'),), 'uSDR without epsilon in the numerator: a silent reference scores -inf'),
    Mutant('scnet-conv-groupnorm-eps', 'mss/models/scnet.py', 'nn.GroupNorm(1, channels), nn.Conv1d(', 'nn.GroupNorm(1, channels, eps=1e-4), nn.Conv1d(',
           ('py:tests/test_scnet_fixtures.py -k golden', NB_('10_models.scnet')), 'GroupNorm epsilon 1e-4 instead of 1e-5 (convolution modules)'),
    Mutant('scnet-dualpath-groupnorm-eps', 'mss/models/scnet.py', 'nn.GroupNorm(1, d) for _ in range(2)', 'nn.GroupNorm(1, d, eps=1e-4) for _ in range(2)',
           ('py:tests/test_scnet_fixtures.py -k "golden or epsilon"', NB_('10_models.scnet')), 'GroupNorm epsilon 1e-4 instead of 1e-5 (dual-path blocks)'),
    Mutant('s4d-gelu-tanh', 'mss/models/s4.py', 'self.activation = nn.GELU()', "self.activation = nn.GELU(approximate='tanh')",
           ('py:tests/test_sashimi.py -k fixture_parity', NB_('13_models.s4')), 'S4D with the tanh-approximated GELU (small output change)'),
    Mutant('tcn-gain-eq-no-gradient', 'mss/mixer.py', "y = self.proc(x, c['gain'], c['eq'], c['side'], c['balance'], X)",
           "y = self.proc(x, c['gain'].detach(), c['eq'].detach(), c['side'], c['balance'], X)",
           (NB_('42_mixer'),), "the TCN's gain and EQ controls get no gradient (identity at init still holds; it cannot learn gains)"),
    Mutant('ola-lerp-weight', 'mss/ola.py', 'lerp_(yi[:, :j], c[:j])', 'lerp_(yi[:, :j], 1 - c[:j])',
           ('py:tests/test_ola_properties.py',), 'overlap-add running average with the complementary weight'),
    Mutant('sashimi-generate-by-conv', 'mss/models/sashimi.py', '        h = model.step(x, state)\n',
           '        xs = torch.stack([torch.full_like(x, zero_token(cfg.bits))] + toks, 1)\n'
           '        xs = torch.cat([xs, xs.new_zeros(batch, (-xs.shape[1]) % cfg.step, cfg.channels)], 1)\n'
           '        h = model.backbone(model.embed(xs))[:, t]\n',
           ('py:tests/test_sashimi.py -k generate', NB_('14_models.sashimi')), 'generation re-runs the convolution mode on the whole prefix per sample'),
    Mutant('load-audio-whole-file', 'mss/audio.py', "sf.read(str(path), start=start, stop=stop, dtype='float32', always_2d=True)",
           "sf.read(str(path), dtype='float32', always_2d=True); data = data[start:stop]",
           (NB_('00_audio'),), 'load_audio decodes the whole file, then slices'),
    Mutant('save-audio-in-place', 'mss/audio.py', '        sf.write(tmp, x.T.numpy(), int(sample_rate), subtype=subtype)\n        os.replace(tmp, path)\n',
           '        os.remove(tmp)\n        sf.write(str(path), x.T.numpy(), int(sample_rate), subtype=subtype)\n',
           (NB_('00_audio'),), 'save_audio writes the target in place (not atomic)'),
    Mutant('synth-band-limited-vocals', 'mss/synth.py', 'y = pw.synthesize(f0, sp, ap, SAMPLE_RATE, FRAME)[:n_samples]',
           'y = signal.resample_poly(signal.resample_poly(pw.synthesize(f0, sp, ap, SAMPLE_RATE, FRAME), 1, 2), 2, 1)[:n_samples]',
           ('py:tests/test_data_synth.py -k bandwidth', NB_('04_synth')), 'sung vocals band-limited to 11.025 kHz, as espeak-ng renders them (a bandwidth cue)'),
    Mutant('encoder-film-ignores-stem', 'mss/encoder.py', 'c = torch.arange(n, device=h.device).repeat(B)',
           'c = torch.zeros(B * n, dtype=torch.long, device=h.device)',
           (NB_('41_encoder'),), 'FiLM conditioned on one stem type for every input'),
    # ---- overlap-add
    Mutant('ola-first-window', 'mss/ola.py', '    if first: w[:mid] = peak\n', '    if last: w[:mid] = peak\n',
           ('py:tests/test_ola_properties.py',), 'the flat start goes to the last chunk instead of the first'),
    Mutant('ola-window-power', 'mss/ola.py', 'torch.sin(math.pi * (n + 0.5) / self.chunk_size) ** 2', 'torch.sin(math.pi * (n + 0.5) / self.chunk_size)',
           ('py:tests/test_ola_properties.py', NB_('01_ola')), 'sine window instead of sin² (still positive, wrong cross-fade)'),
    # ---- features
    Mutant('features-lra-gate', 'mss/features.py', 'power_db(za) - 20)[..., None]', 'power_db(za) - 10)[..., None]',
           (NB_('40_features'),), 'loudness_std with the -10 LU gate instead of the LRA-style -20 LU'),
    Mutant('features-ild-sign', 'mss/features.py', '(power_db(pL.sum((-1, -2))) - power_db(pR.sum((-1, -2))))',
           '(power_db(pR.sum((-1, -2))) - power_db(pL.sum((-1, -2))))', (NB_('40_features'),), 'ILD sign flipped (+ = right louder)'),
    Mutant('features-mask-offset', 'mss/features.py', 'm = torch.sigmoid((power_db(Tr) - power_db(Bk)) / 2.0)',
           'm = torch.sigmoid((power_db(Tr) - power_db(Bk) + 6.0) / 2.0)', (NB_('40_features'),), 'masking threshold 6 dB too high'),
    # ---- metrics
    Mutant('sisdr-alpha', 'mss/metrics.py', 'alpha = (est * ref).sum((-2, -1), keepdim=True) / (ref.square()',
           'alpha = (est * ref).sum((-2, -1), keepdim=True) / (est.square()', (NB_('31_metrics'),), 'SI-SDR projection divided by the estimate energy'),
    Mutant('usdr-eps-denominator', 'mss/metrics.py', 'den = (ref - est).square().sum((-2, -1)) + eps', 'den = (ref - est).square().sum((-2, -1)) + 10 * eps',
           (NB_('31_metrics'),), 'uSDR with a 10x epsilon in the denominator'),
    # ---- losses
    Mutant('negsdr-sign', 'mss/losses.py', 'return (10 * (torch.log10(den) - torch.log10(num))).mean(1)',
           'return (10 * (torch.log10(num) - torch.log10(den))).mean(1)', (NB_('30_losses'),), 'negative SDR loss with the wrong sign'),
    Mutant('mrstft-sc-norm', 'mss/losses.py', 'torch.linalg.vector_norm(Y - X, dim=1) / torch.linalg.vector_norm(Y, dim=1)',
           'torch.linalg.vector_norm(Y - X, dim=1) / torch.linalg.vector_norm(X, dim=1)', (NB_('30_losses'),),
           'spectral convergence normalised by the estimate instead of the target'),
    Mutant('combined-loss-weights', 'mss/losses.py', 'total = sum(self.weights[k] * v for k, v in parts.items())',
           'total = sum(v for k, v in parts.items())', (NB_('30_losses'),), 'CombinedLoss ignores its weights'),
    Mutant('masked-loss-quantile', 'mss/losses.py', 'err < _row_quantile(err.detach(), self.q)', 'err <= _row_quantile(err.detach(), self.q)',
           (NB_('30_losses'),), 'masked loss keeps the errors at the quantile'),
    # ---- training
    Mutant('train-accumulation-scale', 'mss/train.py', 'scaler.scale(loss / s.accumulation).backward()', 'scaler.scale(loss).backward()',
           (NB_('32_train'), 'py:tests/test_train.py'), 'gradient accumulation sums instead of averaging'),
    Mutant('train-warmup-off-by-one', 'mss/train.py', 'if i < warmup_steps: return (i + 1) / warmup_steps', 'if i < warmup_steps: return i / warmup_steps',
           (NB_('32_train'),), 'the first warm-up step has learning rate 0'),
    Mutant('train-ema-not-updated', 'mss/train.py', '            if ema is not None: ema.update_parameters(model)\n', '',
           (NB_('32_train'), 'py:tests/test_train.py'), 'the EMA weights are never updated'),
]


def _nb_path(module: Path) -> Path:
    "The notebook a generated module comes from (nbdev's 'File to edit' header)."
    m = re.search(r'File to edit: (\S+?\.ipynb)', module.read_text())
    if not m: raise SystemExit(f'{module}: no "File to edit" header; is it generated by nbdev_export?')
    return (module.parent / m.group(1)).resolve()


def _exported(cell) -> bool:
    return cell['cell_type'] == 'code' and re.match(r'\s*#\|\s*export', ''.join(cell['source'])) is not None


def _locate(root: Path, mt: Mutant) -> tuple:
    "(module text, notebook path, notebook text, notebook, the exported cell holding the old text, problem or None)"
    mod = root / mt.module
    if not mod.is_file(): return None, None, None, None, None, f'{mt.name}: no module {mt.module}'
    src = mod.read_text()
    if src.count(mt.old) != 1: return src, None, None, None, None, f'{mt.name}: the old text occurs {src.count(mt.old)} times in {mt.module} (must be once)'
    nbp = _nb_path(mod)
    nbt = nbp.read_text(); nb = json.loads(nbt)
    hits = [c for c in nb['cells'] if _exported(c) and mt.old in ''.join(c['source'])]
    n = sum(''.join(c['source']).count(mt.old) for c in hits)
    if n != 1: return src, nbp, nbt, nb, None, f'{mt.name}: the old text occurs {n} times in the exported cells of {nbp.name} (must be once)'
    bad = [t for t in mt.tests if t.startswith('nb:') and not (root / t[3:]).is_file()]
    if bad: return src, nbp, nbt, nb, None, f'{mt.name}: no notebook {bad[0][3:]}'  # nbdev_test passes when it finds nothing to test
    return src, nbp, nbt, nb, hits[0], None


def _apply(copy: Path, mt: Mutant) -> list:
    "Plant `mt` in `copy` (module and notebook); returns [(path, original text)] to restore."
    src, nbp, nbt, nb, cell, problem = _locate(copy, mt)
    if problem: raise SystemExit(problem)
    mod, hits = copy / mt.module, [cell]
    s = ''.join(hits[0]['source']).replace(mt.old, mt.new)
    hits[0]['source'] = s.splitlines(keepends=True)
    mod.write_text(src.replace(mt.old, mt.new))
    nbp.write_text(json.dumps(nb, indent=1, ensure_ascii=False))
    return [(mod, src), (nbp, nbt)]


def _command(test: str) -> list:
    kind, _, arg = test.partition(':')
    if kind == 'nb':
        nbt = shutil.which('nbdev_test')
        base = [nbt] if nbt else [sys.executable, '-c', 'from nbdev.test import nbdev_test; nbdev_test()']
        return base + ['--n_workers', '1', '--path', arg]
    if kind == 'py': return [sys.executable, '-m', 'pytest', '-x', '-q', '-p', 'no:cacheprovider', *shlex.split(arg)]
    raise SystemExit(f'unknown test kind {test!r} (use nb:... or py:...)')


def _run(test: str, copy: Path, env: dict, timeout: float, log: Path) -> tuple:
    "(status 'pass'/'fail'/'timeout'/'empty', seconds); 'empty': pytest selected no test"
    t0 = time.time()
    try:
        r = subprocess.run(_command(test), cwd=copy, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        status, out = ('pass' if r.returncode == 0 else 'empty' if test.startswith('py:') and r.returncode == 5 else 'fail'), r.stdout
    except subprocess.TimeoutExpired as e: status, out = 'timeout', e.stdout or b''
    log.write_bytes(out)
    return status, time.time() - t0


def _copy_repo(dst: Path):
    files = subprocess.run(['git', 'ls-files', '-z'], cwd=ROOT, check=True, capture_output=True).stdout.decode().split('\0')
    for f in filter(None, files):
        p = ROOT / f
        if p.is_file(): (dst / f).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(p, dst / f)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--only', nargs='+', metavar='NAME', help='run only these mutants')
    ap.add_argument('--list', action='store_true', help='list the mutants and exit')
    ap.add_argument('--no-baseline', action='store_true', help='do not check that the test selections pass unmutated')
    ap.add_argument('--timeout', type=float, default=900, help='seconds per test command (default 900)')
    ap.add_argument('--logs', type=Path, help='keep the test output here (default: a temporary folder, removed)')
    a = ap.parse_args(argv)
    ms = MUTANTS
    if a.only:
        unknown = set(a.only) - {m.name for m in MUTANTS}
        if unknown: ap.error(f'unknown mutants: {", ".join(sorted(unknown))}')
        ms = [m for m in MUTANTS if m.name in a.only]
    if a.list:
        for m in ms: print(f'{m.name:28s} {m.module:22s} {m.why}\n{"":28s} tests: {", ".join(m.tests)}')
        return 0
    problems = [p for p in (_locate(ROOT, m)[-1] for m in ms) if p]
    if problems: raise SystemExit('stale mutants (update tools/mutants.py):\n  ' + '\n  '.join(problems))
    tmp = Path(tempfile.mkdtemp(prefix='mss-mutants-'))
    copy, logs = tmp / 'repo', a.logs or tmp / 'logs'
    logs.mkdir(parents=True, exist_ok=True)
    try:
        _copy_repo(copy)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(copy)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]),
                   PYTHONDONTWRITEBYTECODE='1', OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'))
        where = subprocess.run([sys.executable, '-c', 'import mss; print(mss.__file__)'], cwd=tmp, env=env, capture_output=True, text=True).stdout.strip()
        if not where.startswith(str(copy)): raise SystemExit(f'import mss resolves to {where!r}, not to the copy in {copy}')
        print(f'copy: {copy} (import mss -> {where}); logs: {logs}', flush=True)
        bad = set()
        if not a.no_baseline:
            for i, t in enumerate(dict.fromkeys(t for m in ms for t in m.tests)):
                st, sec = _run(t, copy, env, a.timeout, logs / f'baseline-{i}.log')
                print(f'baseline  {st:7s} {sec:6.0f}s  {t}', flush=True)
                if st != 'pass': bad.add(t)
        rows = []
        for m in ms:
            restore = _apply(copy, m)
            try:
                try: compile((copy / m.module).read_text(), m.module, 'exec')
                except SyntaxError as e: rows.append((m, 'INVALID', f'{e.msg} (line {e.lineno})', 0.0)); print(f'INVALID  {m.name}: {e}'); continue
                status, by, total = 'SURVIVED', '', 0.0
                for j, t in enumerate(m.tests):
                    if t in bad: continue
                    st, sec = _run(t, copy, env, a.timeout, logs / f'{m.name}-{j}.log'); total += sec
                    if st in ('fail', 'timeout'): status, by = ('caught' if st == 'fail' else 'timeout'), t; break
                if status == 'SURVIVED' and all(t in bad for t in m.tests): status = 'UNTESTED'
                rows.append((m, status, by, total))
                print(f'{status:8s} {total:6.0f}s  {m.name:28s} {by}', flush=True)
            finally:
                for p, text in restore: p.write_text(text)
        w, wb = max(len(m.name) for m in ms), max([9] + [len(r[2]) for r in rows])
        print(f'\n| {"mutant":{w}s} | result   | {"caught by":{wb}s} | seconds |\n|{"-" * (w + 2)}|----------|{"-" * (wb + 2)}|---------|')
        for m, st, by, sec in rows: print(f'| {m.name:{w}s} | {st:8s} | {by or "-":{wb}s} | {sec:7.0f} |')
        n_caught = sum(r[1] in ('caught', 'timeout') for r in rows)
        print(f'\n{n_caught} of {len(rows)} mutants caught' + (f'; test selections failing unmutated: {sorted(bad)}' if bad else ''))
        return 0 if n_caught == len(rows) and not bad else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the copy, and the logs unless --logs put them elsewhere


if __name__ == '__main__':
    sys.exit(main())
