"""A certificate for HTTPS servers in tests."""
from __future__ import annotations

import subprocess
from pathlib import Path


def localhost_certificate(folder: Path) -> tuple[Path, Path]:
    """(key, certificate) of a self-signed certificate that names ``localhost`` only (no IP address)."""
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    return key, cert
