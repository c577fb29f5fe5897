"""Keep README.md identical in content to nbs/index.ipynb (Quarto, which `nbdev_readme` needs, is not available).

python tools/readme.py          # rewrite README.md from nbs/index.ipynb
python tools/readme.py --check  # exit 1 if README.md is stale
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def render(nb_path=ROOT / 'nbs' / 'index.ipynb') -> str:
    parts = []
    for c in json.loads(nb_path.read_text())['cells']:
        src = ''.join(c['source']).strip('\n')
        if c['cell_type'] == 'markdown': parts.append(src)
        elif c['cell_type'] == 'code':
            if re.match(r'^\s*#\|\s*(hide|export)', src): continue
            lines = [l for l in src.splitlines() if not re.match(r'^\s*#\|', l)]
            parts.append('```python\n' + '\n'.join(lines) + '\n```')
            texts = [''.join(o.get('text', '')) if o.get('output_type') == 'stream' else ''.join(o.get('data', {}).get('text/plain', ''))
                     for o in c.get('outputs', [])]
            texts = [t.strip('\n') for t in texts if t.strip()]
            if texts: parts.append('```\n' + '\n'.join(texts) + '\n```')
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    text, readme = render(), ROOT / 'README.md'
    if '--check' in sys.argv:
        if readme.read_text() != text: sys.exit('README.md differs from nbs/index.ipynb: run `python tools/readme.py`')
    else: readme.write_text(text)
