"""ClientHello parsing and fingerprints: once per TLS connection on the edge.

Inputs are the real ClientHellos captured on loopback (tests/fingerprint/captures).
Baseline in the same run: `bytes.hex()` + `bytes.fromhex()` of the same hello, a floor
for any pass over its bytes in Python.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.common import percentile, report
from botwarden.fingerprint.tls import parse_client_hello, parse_hex

CAPTURES = Path(__file__).resolve().parent.parent / "tests" / "fingerprint" / "captures"
N = 5000


def measure(fn: object, data: bytes) -> list[float]:
    assert callable(fn)
    perf = time.perf_counter_ns
    values = []
    for _ in range(N):
        t0 = perf()
        fn(data)
        values.append((perf() - t0) / 1000)
    values.sort()
    return values


def main() -> None:
    rows: list[dict[str, object]] = []
    for name in ("chromium", "curl_cffi_chrome", "curl", "python"):
        path = CAPTURES / f"{name}.hex"
        if not path.exists():
            continue
        data = parse_hex(path.read_text())

        def both(d: bytes) -> None:
            h = parse_client_hello(d)
            _ = h.ja3_hash, h.ja4

        cases = (
            ("hex round trip (baseline)", lambda d: bytes.fromhex(d.hex())),
            ("parse only", parse_client_hello),
            ("parse + ja3_hash + ja4", both),
        )
        for case, fn in cases:
            v = measure(fn, data)
            rows.append(
                {
                    "case": f"{name}: {case}",
                    "bytes": len(data),
                    "p50_us": percentile(v, 50),
                    "p99_us": percentile(v, 99),
                }
            )
    report("tls", rows, {"parse (per connection)": "< 30 us p50 (foundation issue's aim)"})


if __name__ == "__main__":
    main()
