"""TLS and HTTP fingerprints: JA3, JA3N and JA4 from a ClientHello; our header-order fingerprint."""
