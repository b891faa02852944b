import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pages_do_not_import_torch():
    files = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")]
    assert len(files) > 3, "the app's pages and ui package were not found"
    for f in files:
        if f.exists():
            assert not re.search(r"^\s*(import|from)\s+(torch|torchvision|sklearn)\b", f.read_text(), re.M), f


def test_aecore_never_imports_streamlit():
    for f in (ROOT / "aecore").rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+streamlit\b", f.read_text(), re.M), f


def test_importing_aecore_is_light():
    code = "import sys, aecore; print('torchvision' in sys.modules, 'sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr
