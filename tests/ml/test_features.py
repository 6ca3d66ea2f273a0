from __future__ import annotations

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pytest

from botwarden.ml import features as F
from botwarden.ml import windows as W
from botwarden.ml.adapters import contexts
from botwarden.request import RequestContext, TLSInput
from botwarden.state.memory import MemoryState

CHROME_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
CHROME_JA4 = "t13d1516h2_8daaf6152771_02713d6af862"


def _vec(ctx: RequestContext) -> dict[str, float]:
    return dict(zip(F.FEATURE_NAMES, F.FeatureExtractor().extract(ctx), strict=True))


def chrome(**kw: object) -> RequestContext:
    headers = (
        ("sec-ch-ua", '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"'),
        ("sec-ch-ua-mobile", "?0"),
        ("sec-ch-ua-platform", '"Windows"'),
        ("upgrade-insecure-requests", "1"),
        ("user-agent", CHROME_UA),
        ("accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
        ("sec-fetch-site", "none"),
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-user", "?1"),
        ("sec-fetch-dest", "document"),
        ("accept-encoding", "gzip, deflate, br, zstd"),
        ("accept-language", "en-US,en;q=0.9"),
        ("priority", "u=0, i"),
    )
    args: dict[str, object] = {
        "client_ip": "73.1.2.3",
        "host": "shop.example",
        "http_version": "2",
        "headers": headers,
        "tls": TLSInput(ja4=CHROME_JA4),
        "timestamp": 1_767_571_200.0,
    }
    args.update(kw)
    return RequestContext(**args)  # type: ignore[arg-type]


def test_schema_is_consistent() -> None:
    assert len(F.FEATURE_NAMES) == F.N_FEATURES == len(set(F.FEATURE_NAMES))
    assert len(F.SCHEMA_HASH) == 16
    assert len(F.FeatureExtractor().extract(chrome())) == F.N_FEATURES


def test_request_features_read_the_request() -> None:
    v = _vec(chrome())
    assert v["ua_engine"] == 1.0  # chromium
    assert v["ua_browser_major"] == 131.0
    assert v["ua_tls_match"] == 1.0
    assert v["ja4_kind"] == 1.0  # browser
    assert v["ch_brand_match"] == 1.0
    assert v["ch_platform_match"] == 1.0
    assert v["sf_mode"] == 1.0
    assert v["sf_consistent"] == 1.0
    assert v["heuristic_hit"] == 0.0
    assert v["ua_declared_bot"] == 0.0
    assert v["method"] == 1.0
    assert v["path_kind"] == F.HOME

    curl = RequestContext(
        client_ip="52.1.2.3",
        headers=(("Host", "shop.example"), ("User-Agent", "curl/8.5.0"), ("Accept", "*/*")),
        path="/login",
        method="POST",
        timestamp=1_767_571_200.0,
    )
    c = _vec(curl)
    assert c["ua_declared_bot"] == 1.0
    assert c["heuristic_hit"] == 1.0
    assert c["accept_kind"] == 1.0
    assert c["sensitive_post"] == 1.0
    assert c["path_kind"] == F.LOGIN
    assert c["sf_mode"] == 0.0
    assert c["ch_present"] == 0.0


def test_header_values_outside_the_key_do_not_matter() -> None:
    a = chrome(headers=(*chrome().headers, ("cookie", "a=1"), ("referer", "https://x.example/")))
    b = chrome(
        headers=(*chrome().headers, ("cookie", "b=2; c=3"), ("referer", "https://y.example/"))
    )
    assert F.header_key(a.headers) == F.header_key(b.headers)


def test_session_cookie_keys_the_client_and_is_reported() -> None:
    ex = F.FeatureExtractor()
    hdrs = (*chrome().headers, ("cookie", "__cf_bm=abc; sid=1"))
    one = ex.extract(chrome(headers=hdrs, client_ip="73.1.2.3"))
    # Same cookie from another address: the same client, so its request count grows.
    two = ex.extract(chrome(headers=hdrs, client_ip="99.9.9.9", timestamp=1_767_571_201.0))
    i = F.FEATURE_NAMES.index("c_life_requests")
    assert (one[i], two[i]) == (1.0, 2.0)
    assert two[F.FEATURE_NAMES.index("session_cookie")] == 1.0
    cfg = F.FeatureConfig(validate_session=lambda v: v == "abc")
    assert (
        F.FeatureExtractor(cfg).extract(chrome(headers=hdrs))[
            F.FEATURE_NAMES.index("session_cookie")
        ]
        == 2.0
    )


def test_asn_category_from_the_context() -> None:
    from botwarden.geoip import GeoFacts
    from botwarden.ml.adapters import RowGeo

    geo = RowGeo({"52.1.2.3": GeoFacts(asn=16509), "73.1.2.3": GeoFacts(asn=7922)})
    i = F.FEATURE_NAMES.index("asn_category")
    ex = F.FeatureExtractor()
    assert ex.extract(chrome(client_ip="52.1.2.3", geoip=geo))[i] == 3.0  # hosting
    assert ex.extract(chrome(client_ip="73.1.2.3", geoip=geo))[i] == 1.0  # eyeball
    assert ex.extract(chrome(client_ip="10.0.0.1"))[i] == 0.0  # unknown


def test_batch_and_single_row_give_identical_vectors(events: pa.Table) -> None:
    """The contract of ml/features.py: serving (one request at a time, windows updated as
    requests arrive, responses observed) and training (vectorised over the table) agree
    bit for bit on every feature of every request."""
    batch = F.batch_features(events)
    ex = F.FeatureExtractor()
    rows = []
    for ctx, status in contexts(events):
        rows.append(ex.extract(ctx))
        ex.observe_response(ctx, status)
    single = np.asarray(rows, dtype=np.float32)
    assert single.shape == batch.shape == (events.num_rows, F.N_FEATURES)
    diff = np.argwhere(single != batch)
    names = sorted({F.FEATURE_NAMES[c] for c in diff[:, 1].tolist()})
    assert len(diff) == 0, f"{len(diff)} differing values in {names}"
    # the corpus exercises what the windows do
    col = {n: batch[:, i] for i, n in enumerate(F.FEATURE_NAMES)}
    assert col["c_reqs_10m"].max() > 50
    assert (col["c_distinct_paths_prev"] > 0).any()
    assert (col["c_error_ratio"] > 0).any()
    assert (col["c_gap_cv"] >= 0).any()
    assert len(np.unique(col["asn_category"])) >= 3


def test_batch_refuses_unordered_events(events: pa.Table) -> None:
    with pytest.raises(ValueError, match="time order"):
        F.batch_features(events.take(pa.array(np.arange(events.num_rows)[::-1])))


def _synthetic(n: int, seed: int) -> dict[str, np.ndarray]:
    """Random request streams of 40 clients over 3 hours, with bursts and long gaps."""
    rng = np.random.default_rng(seed)
    gaps = rng.choice([0, 1_000, 300_000, 5_000_000, 70_000_000, 700_000_000, 1_900_000_000],
                      size=n, p=[0.1, 0.3, 0.25, 0.2, 0.1, 0.04, 0.01])  # fmt: skip
    t = 1_767_571_200_000_000 + np.cumsum(gaps) // 7
    return {
        "t": t.astype(np.int64),
        "client": rng.integers(0, 40, n),
        "ip": rng.integers(0, 15, n),
        "path": rng.integers(0, 64, n),
        "ua": rng.integers(0, 64, n),
        "kind": rng.integers(0, 3, n),
        "sens": rng.random(n) < 0.1,
        "noref": rng.random(n) < 0.5,
        "status": rng.choice([200, 302, 404, 429, 500], n),
        "ja4": rng.integers(0, 6, n),
        "b": rng.random(n) < 0.5,
        "h": rng.random(n) < 0.2,
    }


@pytest.mark.parametrize("shared", [False, True])
def test_windows_agree_on_synthetic_streams(shared: bool) -> None:
    s = _synthetic(3000, seed=1)
    batch = W.batch_client_ip(
        s["t"], s["client"], s["ip"], s["path"], s["ua"],
        static=s["kind"] == 1, api=s["kind"] == 2, sensitive=s["sens"],
        no_referer=s["noref"], status=s["status"],
    )  # fmt: skip
    cw = W.ClientWindows(store=MemoryState() if shared else None)
    rows = []
    for i in range(len(s["t"])):
        c, t = str(s["client"][i]), int(s["t"][i])
        rows.append(cw.update(
            c, str(s["ip"][i]), t, path_hash=int(s["path"][i]), ua_hash=int(s["ua"][i]),
            static=bool(s["kind"][i] == 1), api=bool(s["kind"][i] == 2),
            sensitive=bool(s["sens"][i]), no_referer=bool(s["noref"][i]),
        ))  # fmt: skip
        cw.observe(c, t, int(s["status"][i]))
    assert np.array_equal(np.asarray(rows), batch)

    ja = W.batch_ja4(s["t"], s["ja4"], browser=s["b"], heuristic=s["h"])
    sig = W.Ja4Signals()
    rows = [
        sig.update(
            str(s["ja4"][i]),
            int(s["t"][i]),
            browser=bool(s["b"][i]),
            heuristic=bool(s["h"][i]),
        )
        for i in range(len(s["t"]))
    ]
    assert np.array_equal(np.asarray(rows), ja)


def test_windows_are_bounded() -> None:
    cw = W.ClientWindows(capacity=10)
    for i in range(100):
        cw.update(f"c{i}", f"ip{i}", 1_000_000 * i, path_hash=0, ua_hash=0, static=False,
                  api=False, sensitive=False, no_referer=False)  # fmt: skip
    assert len(cw) == 10
    assert cw.evictions == 180
    sig = W.Ja4Signals(capacity=3)
    for i in range(10):
        sig.update(f"j{i}", i, browser=True, heuristic=False)
    assert len(sig) == 3


def test_a_client_idle_past_its_life_starts_afresh() -> None:
    cw = W.ClientWindows()
    kw = {"path_hash": 1, "ua_hash": 1, "static": False, "api": False, "sensitive": False,
          "no_referer": False}  # fmt: skip
    i = W.CLIENT_FEATURES.index("c_life_requests")
    assert cw.update("c", "ip", 0, **kw)[i] == 1.0  # type: ignore[arg-type]
    assert cw.update("c", "ip", 1_000_000, **kw)[i] == 2.0  # type: ignore[arg-type]
    assert cw.update("c", "ip", 1_000_000 + W.LIFE_US, **kw)[i] == 1.0  # type: ignore[arg-type]


def test_long_values_bypass_the_caches() -> None:
    """Caches are keyed by what clients send: kilobyte values are computed, not cached."""
    long_path = "/search/" + "a" * 5000
    ctx = chrome(
        path=long_path,
        headers=(
            *chrome().headers,
            ("cookie", "x=" + "y" * 5000),
            ("referer", "https://r/" + "z" * 900),
        ),
    )
    F.FeatureExtractor().extract(chrome())  # the short values are cached
    before = (F.path_block.cache_info().currsize, F._bit.cache_info().currsize)
    v = dict(zip(F.FEATURE_NAMES, F.FeatureExtractor().extract(ctx), strict=True))
    assert v["path_len"] == len(long_path)
    assert v["cookie_count"] == 1.0
    assert v["referer_kind"] == 2.0
    assert (F.path_block.cache_info().currsize, F._bit.cache_info().currsize) == before


def _h1_form(ctx: RequestContext) -> RequestContext:
    """The same request as Chromium sends it to an HTTP/1.1-only server (as Botwarden's
    own edge is): Host and Connection first, names in Title-Case except the client hints
    (captured from the real Chromium 156), no Priority header."""

    def title(name: str) -> str:
        if name.startswith("sec-ch-"):
            return name
        return "-".join(p.capitalize() for p in name.split("-"))

    headers = (
        ("Host", "shop.example"),
        ("Connection", "keep-alive"),
        *((title(n), v) for n, v in ctx.headers if n != "priority"),
    )
    return chrome(headers=headers, http_version="1.1")


def test_request_features_do_not_depend_on_the_negotiated_http_version() -> None:
    """What the server negotiates (HTTP/1.1 at the edge, HTTP/2 behind a proxy) is not a
    property of the client: both forms of one browser request give one vector."""
    h2 = F.FeatureExtractor().extract(chrome())
    h1 = F.FeatureExtractor().extract(_h1_form(chrome()))
    assert h1 == h2
    # and a proxy's forwarding headers say nothing of the client either
    proxied = chrome(headers=(*chrome().headers, ("X-Forwarded-For", "73.1.2.3"),
                              ("X-Real-IP", "73.1.2.3")))  # fmt: skip
    assert F.FeatureExtractor().extract(proxied) == h2


def test_schema_v2_has_no_deployment_dependent_features() -> None:
    gone = {"http_version", "connection_on_h2", "has_connection", "has_host", "has_te",
            "has_priority", "hdr_uppercase", "tls_present", "ja4_h2h3_ratio_1h"}  # fmt: skip
    assert not gone & set(F.FEATURE_NAMES)
    assert F.FEATURES_VERSION == 2
