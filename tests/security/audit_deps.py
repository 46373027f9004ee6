"""``make audit-deps``: pip-audit every pinned requirements file and say what it found.

Run with the throwaway audit venv's Python (``var/audit-venv``, pip-audit 2.10.1), one
``requirements/*.txt`` per argument. Exit 0: every package was checked and none has a known
vulnerability. Exit 1: vulnerabilities found (listed with the fixed versions). Exit 2: packages
could not be checked (the vulnerability service did not answer for them) -- never reported as clean.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path


def audit(requirements: Path, service: str) -> dict[str, list[dict[str, object]]]:
    """pip-audit's JSON for one file (``--no-deps``: the files pin every package)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        subprocess.run([sys.executable, "-m", "pip_audit", "--no-deps", "--disable-pip", "--progress-spinner", "off",
                        "--vulnerability-service", service, "-r", str(requirements), "--format", "json",
                        "-o", str(out)], capture_output=True, text=True, timeout=900)
        if not out.exists():
            return {"dependencies": []}
        return json.loads(out.read_text())  # type: ignore[no-any-return]


def main(paths: list[str], service: str = "pypi") -> int:
    vulnerable = unchecked = 0
    for name in paths:
        report = audit(Path(name), service)
        deps = report.get("dependencies", [])
        skipped = [d for d in deps if d.get("skip_reason")]
        found = [d for d in deps if d.get("vulns")]
        print(f"{name}: {len(deps)} packages, {len(found)} with known vulnerabilities, {len(skipped)} not checked")
        for dep in found:
            for vuln in dep["vulns"]:  # type: ignore[union-attr]
                fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix released"
                print(f"  {dep['name']}=={dep['version']}: {vuln['id']} (fixed in: {fixes})")
        vulnerable += len(found)
        unchecked += len(skipped)
    if vulnerable:
        return 1
    if unchecked:
        print(f"{unchecked} packages could not be checked: the {service} vulnerability service did not answer "
              "for them (offline, or a registry mirror without the per-release JSON API); this is NOT a clean result.")
        return 2
    print("no known vulnerabilities")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    chosen = "pypi"
    if args[:1] == ["--service"]:
        chosen, args = args[1], args[2:]
    sys.exit(main(args, chosen))
