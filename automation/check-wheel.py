"""Check a built wheel (`just dist`): it carries the platform-migrate binary, and that binary
has every built-in plugin embedded (its `--version` lists each with a sha256)."""
import os
import subprocess
import sys
import tempfile
import zipfile

wheel = sys.argv[1]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.endswith("/scripts/platform-migrate")]
    if len(names) != 1:
        sys.exit(f"{wheel}: no platform-migrate binary in its scripts ({z.namelist()})")
    with tempfile.TemporaryDirectory() as d:
        exe = os.path.join(d, "platform-migrate")
        with open(exe, "wb") as f:
            f.write(z.read(names[0]))
        os.chmod(exe, 0o755)
        version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
builtins = [l for l in version.splitlines() if l.startswith("builtin:")]
if len(builtins) != 4 or any("sha256:" not in l for l in builtins):
    sys.exit(f"{wheel}: the binary lacks a built-in plugin:\n{version}")
print(f"{wheel} ({os.path.getsize(wheel) // 1024} KiB):\n{version}")
