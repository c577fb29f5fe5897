"Every exported module imports on its own, in a fresh interpreter (catches missing exported imports and cycles)."
import subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted('mss.' + '.'.join(p.relative_to(ROOT / 'mss').with_suffix('').parts)
                 for p in (ROOT / 'mss').rglob('*.py') if p.name not in ('__init__.py', '_modidx.py'))

def test_found_modules(): assert 'mss.audio' in MODULES and 'mss.ola' in MODULES

@pytest.mark.parametrize('mod', MODULES)
def test_import(mod):
    r = subprocess.run([sys.executable, '-c', f'import {mod}'], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]

def test_numbering_is_dependency_order():
    "A module imports only lower-numbered modules (from the notebooks' default_exp and their numbers)."
    import json, re
    nums = {}
    for nb in (ROOT / 'nbs').glob('[0-9]*.ipynb'):
        cells = json.loads(nb.read_text())['cells']
        for c in cells:
            m = re.search(r'#\|\s*default_exp\s+(\S+)', ''.join(c['source']))
            if m: nums['mss.' + m.group(1)] = nb.name.split('_')[0]
    for mod, num in nums.items():
        src = (ROOT / (mod.replace('.', '/') + '.py')).read_text()
        src = src.split("\nif __name__ == '__main__'")[0]  # a script entry point (python -m) is not imported by the package
        for dep in set(re.findall(r'^\s*from\s+(\.+[\w.]*|mss[\w.]*)\s+import', src, flags=re.M)):
            if dep.startswith('.'):
                pkg = mod.rsplit('.', 1)[0].split('.')
                up = len(dep) - len(dep.lstrip('.'))
                dep = '.'.join(pkg[:len(pkg) - up + 1] + ([dep.lstrip('.')] if dep.lstrip('.') else []))
            if dep in nums: assert nums[dep] < num or dep == mod, f'{mod} ({num}) imports {dep} ({nums[dep]})'
