"""changegate: compliance gates for CI/CD in regulated finance.

Kept import-free on purpose: `changegate --help` must start in well under 150 ms, so nothing
heavy (sigstore, cryptography, jsonschema) may be imported at package import time.
"""

__version__ = "0.1.0"
