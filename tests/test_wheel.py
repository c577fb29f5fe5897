"""Wheel-install check: what a user gets from `pip install mss`.

Builds the wheel from the working tree, installs it **without extras** into a fresh virtual environment that cannot see
the development packages (nbdev, pytest, hypothesis, ...), imports every module of the installed package and runs every
console script of the installed distribution with `--help`. A runtime import that `requirements` in settings.ini does
not cover (the `fastcore` bug of issue 10) fails here with the pip or Python output.

torch and torchaudio (about 2 GB) are not downloaded again: the venv sees exactly them and their own runtime
dependencies through a folder of symlinks named by a `.pth` file, so pip counts them as installed and fetches only
the rest (from pip's cache after the first run).
"""
import importlib.metadata as md, importlib.util
import json, os, shutil, subprocess, sys, textwrap
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
HOST_DISTS = ('torch', 'torchaudio')  # reused from this interpreter
VENV_OWN = {'pip', 'setuptools', 'wheel'}  # the venv brings its own
DEV_ONLY = ('nbdev', 'execnb', 'ghapi', 'pytest', 'hypothesis', 'ruff')  # must not be importable in the venv
SOURCES = ('setup.py', 'settings.ini', 'pyproject.toml', 'MANIFEST.in', 'README.md', 'LICENSE', 'mss')


def _key(name): return name.lower().replace('_', '-').replace('.', '-')


def host_closure(names=HOST_DISTS):
    "The installed distributions `names` need at run time, recursively, with the extras they ask for."
    seen, todo = {}, [(n, frozenset()) for n in names]
    while todo:
        name, extras = todo.pop()
        k = _key(name)
        if k in seen and extras <= seen[k][1]: continue
        dist = md.distribution(name)  # a missing dependency of torch is a broken host: let it raise
        extras = extras | (seen[k][1] if k in seen else frozenset())
        seen[k] = (dist, extras)
        for r in map(Requirement, dist.requires or []):
            if r.marker and not any(r.marker.evaluate({'extra': e}) for e in (extras or {''})): continue
            todo.append((r.name, frozenset(r.extras)))
    return {k: d for k, (d, _) in seen.items()}


def link_host_packages(dest:Path):
    "Symlink the top-level files and folders (and the .dist-info) of torch, torchaudio and their dependencies."
    dest.mkdir()
    linked = []
    for k, dist in sorted(host_closure().items()):
        if k in VENV_OWN: continue
        site = Path(dist.locate_file(''))
        tops = {Path(f).parts[0] for f in dist.files or []} | ({Path(dist._path).name} if hasattr(dist, '_path') else set())
        for top in sorted(tops):
            if top in ('..', '__pycache__') or top.endswith('.pth') or (dest / top).exists(): continue
            if (site / top).exists(): (dest / top).symlink_to(site / top)
        linked.append(f'{dist.metadata["Name"]}=={dist.version}')
    return linked


def clean_env(venv:Path):
    "The environment for the venv's programs: no PYTHONPATH (the test itself may run with one), no user site."
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'PYTHONUSERBASE', 'VIRTUAL_ENV', 'PIP_USER')}
    env.update(PYTHONNOUSERSITE='1', VIRTUAL_ENV=str(venv), PATH=f'{venv / "bin"}{os.pathsep}{env.get("PATH", "")}')
    return env


def run(cmd, what, **kw):
    "Run `cmd`; on failure, fail the test with `what` and the command's whole output."
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        pytest.fail(f"{what} failed (exit {r.returncode}): {' '.join(map(str, cmd))}\n"
                    f"--- stdout\n{r.stdout[-20000:]}\n--- stderr\n{r.stderr[-20000:]}", pytrace=False)
    return r


def no_isolation():
    "Build with this interpreter's setuptools when it can make wheels (offline, faster); else let pip fetch it."
    if importlib.util.find_spec('setuptools') is None: return []
    from packaging.version import Version
    can = Version(md.version('setuptools')) >= Version('70.1') or importlib.util.find_spec('wheel') is not None
    return ['--no-build-isolation'] if can else []


@pytest.fixture(scope='module')
def venv(tmp_path_factory):
    "A fresh venv with the wheel installed without extras; torch/torchaudio linked from this interpreter."
    tmp = tmp_path_factory.mktemp('wheel')
    # build from a copy of the sources, so no stale build/ folder leaks removed modules into the wheel
    src = tmp / 'src'; src.mkdir()
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir(): shutil.copytree(p, src / name, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        elif p.exists(): shutil.copy2(p, src / name)
    run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', *no_isolation(), '-q', '-w', tmp / 'dist', src],
        'building the wheel', cwd=tmp)
    wheel, = (tmp / 'dist').glob('mss-*.whl')
    v = tmp / 'venv'
    run([sys.executable, '-m', 'venv', v], 'creating the venv', cwd=tmp)
    py, env = v / 'bin' / 'python', clean_env(v)
    site = Path(run([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], 'locating site-packages',
                    env=env, cwd=tmp).stdout.strip())
    linked = link_host_packages(tmp / 'host-torch')
    (site / 'mss_test_host_torch.pth').write_text(f'{tmp / "host-torch"}\n')
    run([py, '-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--no-compile', wheel],
        f'installing {wheel.name} without extras (linked from the host: {", ".join(linked)})', env=env, cwd=tmp)
    yield {'python': py, 'env': env, 'root': v, 'tmp': tmp, 'linked': linked}
    shutil.rmtree(tmp, ignore_errors=True)  # a few hundred MB; failures carry the pip and Python output


def in_venv(venv, code, what):
    return run([venv['python'], '-c', textwrap.dedent(code)], what, env=venv['env'], cwd=venv['tmp'])


def test_venv_sees_no_dev_packages(venv):
    code = f"""
        import importlib.util, json
        print(json.dumps([m for m in {DEV_ONLY!r} if importlib.util.find_spec(m) is not None]))"""
    visible = json.loads(in_venv(venv, code, 'looking for dev packages').stdout)
    assert visible == [], f'the venv can import dev-only packages: {visible}'
    r = subprocess.run([venv['python'], '-c', 'import nbdev'], capture_output=True, text=True, env=venv['env'], cwd=venv['tmp'])
    assert r.returncode != 0 and "No module named 'nbdev'" in r.stderr
    code = """
        import importlib.metadata as md, json
        print(json.dumps({d: str(md.distribution(d).locate_file('')) for d in ('torch', 'torchaudio')}))"""
    where = json.loads(in_venv(venv, code, 'locating torch').stdout)
    assert all(p == str(venv['tmp'] / 'host-torch') for p in where.values()), f'torch was installed again: {where}'


def test_every_module_imports(venv):
    code = """
        import importlib, json, pkgutil, traceback
        import mss
        failed = {}
        def onerror(name): failed[name] = traceback.format_exc()
        mods = ['mss'] + [m.name for m in pkgutil.walk_packages(mss.__path__, 'mss.', onerror=onerror)]
        for m in mods:
            try: importlib.import_module(m)
            except BaseException: failed[m] = traceback.format_exc()
        print(json.dumps({'file': mss.__file__, 'modules': mods, 'failed': failed}))"""
    res = json.loads(in_venv(venv, code, 'importing the installed package').stdout.splitlines()[-1])
    assert Path(res['file']).is_relative_to(venv['root']), f"mss was imported from {res['file']}, not from the venv"
    assert {'mss.audio', 'mss.ola', 'mss.cli', 'mss.models.scnet'} <= set(res['modules']), res['modules']
    if res['failed']:
        pytest.fail(f"{len(res['failed'])} module(s) fail to import from the installed wheel: {', '.join(res['failed'])}\n"
                    + '\n'.join(f'--- {m}\n{tb}' for m, tb in res['failed'].items()), pytrace=False)


def test_console_scripts_help(venv):
    code = """
        import importlib.metadata as md, json
        print(json.dumps(sorted(ep.name for ep in md.distribution('mss').entry_points if ep.group == 'console_scripts')))"""
    scripts = json.loads(in_venv(venv, code, 'listing the console scripts').stdout)
    assert scripts, 'the installed distribution declares no console scripts'
    failed = []
    for s in scripts:
        exe = venv['root'] / 'bin' / s
        r = subprocess.run([exe, '--help'], capture_output=True, text=True, env=venv['env'], cwd=venv['tmp'])
        if r.returncode != 0 or 'usage' not in r.stdout.lower():
            failed.append(f'--- {s} --help: exit {r.returncode}\n{r.stdout[-5000:]}\n{r.stderr[-5000:]}')
    if failed: pytest.fail(f'{len(failed)} of {len(scripts)} console scripts fail with --help in the installed wheel:\n'
                           + '\n'.join(failed), pytrace=False)


def test_shipped_separator_runs_from_the_wheel(venv):
    "The separator's weights, config and card travel in the wheel: `mss-separate song.wav` works with no config."
    code = """
        import json, torch, soundfile as sf
        from mss.pretrained import pretrained_separator
        s = pretrained_separator()
        sf.write('song.wav', (0.1 * torch.randn(44100, 2)).numpy(), 44100)
        print(json.dumps({'card': s.card.is_file(), 'weights': str(s.weights)}))"""
    res = json.loads(in_venv(venv, code, 'finding the shipped separator').stdout.splitlines()[-1])
    assert res['card'] and Path(res['weights']).is_relative_to(venv['root']), res
    r = subprocess.run([venv['root'] / 'bin' / 'mss-separate', 'song.wav', '--out', 'sep'], capture_output=True, text=True,
                       env=venv['env'], cwd=venv['tmp'])
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (venv['tmp'] / 'sep' / 'song').iterdir()) == ['bass.wav', 'drums.wav', 'other.wav', 'vocals.wav']
