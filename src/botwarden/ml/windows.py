"""Inter-request features: per client, per IP and per JA4, over sliding windows.

Two implementations of one definition: `ClientWindows` / `Ja4Signals` update state one
request at a time (serving), `batch_client_ip` / `batch_ja4` compute the same figures for
a whole time-ordered table with numpy (training). All state is integers (microsecond
timestamps, counts, bitmaps) and every derived figure is the same float expression in
both, so the two agree bit for bit.

Windows are Cloudflare's sliding-window estimate: counts in the current fixed bucket plus
the previous bucket's total weighted by how much of it the window still covers,
`prev × (1 − elapsed/W) + cur`. That needs two buckets per window, so memory per key is
fixed:

- client record (session id, else IP + JA4): 10 s, 1 min and 10 min request counts; over
  10 min, static / page / API requests, sensitive POSTs, pages without a referer, error
  responses, and a 64-bit bitmap of hashed paths (distinct paths); the last 8
  inter-arrival gaps; first and last time. A client idle for `LIFE_US` (30 min, the
  session cookie's inactivity limit) starts afresh.
- IP record (IPv4 address or IPv6 /64): 1 min requests, 10 min bitmap of user agents.
- JA4 record (in process, across zones): 1 h requests, browser-UA and heuristic counts.
  (No HTTP/2-or-3 share: the HTTP version is the deployment's, not the client's.)

Sizes and bounds are on `ClientWindows` and `Ja4Signals`.
"""

from __future__ import annotations

import math
import struct
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from botwarden.state.base import StateStore

W10S = 10_000_000
W1M = 60_000_000
W10M = 600_000_000
W1H = 3_600_000_000
LIFE_US = 1_800_000_000
RING = 8
GAP_CAP_MS = 600_000

CLIENT_FEATURES: tuple[str, ...] = (
    "c_reqs_10s",
    "c_reqs_1m",
    "c_reqs_10m",
    "c_static_ratio",
    "c_page_ratio",
    "c_api_ratio",
    "c_sensitive_posts_10m",
    "c_noref_page_ratio",
    "c_error_ratio",
    "c_distinct_paths",
    "c_distinct_paths_prev",
    "c_distinct_ratio",
    "c_gap_mean_s",
    "c_gap_cv",
    "c_life_requests",
    "c_life_age_s",
)
IP_FEATURES: tuple[str, ...] = ("ip_reqs_1m", "ip_user_agents_10m")
JA4_FEATURES: tuple[str, ...] = (
    "ja4_reqs_1h",
    "ja4_share_1h",
    "ja4_browser_ratio_1h",
    "ja4_heuristic_ratio_1h",
)

# Client record layout: first, last, life_n | ring[8], ring_len, ring_pos, Σgap, Σgap² |
# b10s, c10s, p10s | b1m, c1m, p1m | b10m, cur[8], prev[8], path bitmap, pop_prev
_C = struct.Struct("<qqI" + "I" * RING + "BBqq" + "qII" + "qII" + "q" + "I" * 16 + "QI")
_FIRST, _LAST, _LIFE = 0, 1, 2
_RING0 = 3
_RLEN, _RPOS, _S1, _S2 = _RING0 + RING, _RING0 + RING + 1, _RING0 + RING + 2, _RING0 + RING + 3
_B10S = _S2 + 1
_B1M = _B10S + 3
_B10M = _B1M + 3
_CUR = _B10M + 1
_PREV = _CUR + 8
_BITMAP = _PREV + 8
_POPPREV = _BITMAP + 1
_CLEN = _POPPREV + 1
# the eight counters of a 10-minute bucket
N, STATIC, PAGE, API, SENS, NOREF, ERR, RESP = range(8)
_C_N, _C_STATIC, _C_PAGE, _C_API, _C_SENS, _C_NOREF, _C_ERR, _C_RESP = range(_CUR, _CUR + 8)
_P_N, _P_STATIC, _P_PAGE, _P_API, _P_SENS, _P_NOREF, _P_ERR, _P_RESP = range(_PREV, _PREV + 8)

_I = struct.Struct("<qIIqQQ")  # b1m, c1m, p1m, b10m, bitmap_cur, bitmap_prev
CLIENT_TTL = LIFE_US / 1e6 + 60.0
IP_TTL = 2 * W10M / 1e6 + 60.0

CLIENT_RECORD_BYTES = 850
"""Measured (tracemalloc) size of one in-process client record with its key and LRU
entry; an IP record is about IP_RECORD_BYTES, a JA4 record about JA4_RECORD_BYTES."""
IP_RECORD_BYTES = 320
JA4_RECORD_BYTES = 320


class ClientWindows:
    """Per-client and per-IP windows.

    By default records live in this process, in two LRU maps bounded by `capacity`
    clients and `capacity` IPs (ceiling ≈ capacity × (CLIENT_RECORD_BYTES +
    IP_RECORD_BYTES): 100,000 → about 120 MB). Given a StateStore (`store=`), records are
    kept there instead, packed (186 + 48 bytes), under `ml:c:` and `ml:ip:` keys, so edges
    sharing a Redis see one client's requests across all of them.
    """

    def __init__(self, capacity: int = 100_000, store: StateStore | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.store = store
        self._clients: OrderedDict[str, list[int]] = OrderedDict()
        self._ips: OrderedDict[str, list[int]] = OrderedDict()
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._clients)

    def _get(self, table: OrderedDict[str, list[int]], key: str) -> list[int] | None:
        rec = table.get(key)
        if rec is not None:
            table.move_to_end(key)
        return rec

    def _put(self, table: OrderedDict[str, list[int]], key: str, rec: list[int]) -> None:
        table[key] = rec
        if len(table) > self.capacity:
            table.popitem(last=False)
            self.evictions += 1

    def client_record(self, client: str, t: int) -> list[int] | None:
        if self.store is None:
            return self._get(self._clients, client)
        raw = self.store.get("ml:c:" + client, t / 1e6)
        return list(_C.unpack(raw)) if raw is not None and len(raw) == _C.size else None

    def update(
        self,
        client: str,
        ip: str,
        t: int,
        *,
        path_hash: int,
        ua_hash: int,
        static: bool,
        api: bool,
        sensitive: bool,
        no_referer: bool,
    ) -> tuple[float, ...]:
        store = self.store
        rec = self.client_record(client, t)
        if rec is None or t - rec[_LAST] >= LIFE_US:
            rec = [0] * _CLEN
            rec[_FIRST] = rec[_LAST] = t
            rec[_B10S] = rec[_B1M] = rec[_B10M] = -1
            if store is None:
                self._put(self._clients, client, rec)
        elif rec[_LIFE] > 0:
            d = t - rec[_LAST]
            g = (d // 1000 if d < GAP_CAP_MS * 1000 else GAP_CAP_MS) if d > 0 else 0
            pos = rec[_RPOS]
            if rec[_RLEN] == RING:
                old = rec[_RING0 + pos]
                rec[_S1] -= old
                rec[_S2] -= old * old
            else:
                rec[_RLEN] += 1
            rec[_RING0 + pos] = g
            rec[_S1] += g
            rec[_S2] += g * g
            rec[_RPOS] = (pos + 1) % RING
            if t > rec[_LAST]:
                rec[_LAST] = t
        rec[_LIFE] += 1
        f10s = _roll1(rec, _B10S, t, W10S)
        f1m = _roll1(rec, _B1M, t, W1M)
        b = t // W10M
        rb = rec[_B10M]
        if b > rb:
            if b == rb + 1:
                rec[_PREV : _PREV + 8] = rec[_CUR : _CUR + 8]
                rec[_POPPREV] = rec[_BITMAP].bit_count()
            else:
                rec[_PREV : _PREV + 8] = _ZEROS8
                rec[_POPPREV] = 0
            rec[_CUR : _CUR + 8] = _ZEROS8
            rec[_BITMAP] = 0
            rec[_B10M] = b
        rec[_C_N] += 1
        if static:
            rec[_C_STATIC] += 1
        elif api:
            rec[_C_API] += 1
        else:
            rec[_C_PAGE] += 1
            if no_referer:
                rec[_C_NOREF] += 1
        if sensitive:
            rec[_C_SENS] += 1
        bitmap = rec[_BITMAP] | (1 << path_hash)
        rec[_BITMAP] = bitmap
        if store is not None:
            store.set("ml:c:" + client, _C.pack(*rec), CLIENT_TTL, t / 1e6)

        w = 1.0 - (t % W10M) / W10M
        n_cur = rec[_C_N]
        est_n = rec[_P_N] * w + n_cur
        est_page = rec[_P_PAGE] * w + rec[_C_PAGE]
        est_resp = rec[_P_RESP] * w + rec[_C_RESP]
        pop = bitmap.bit_count()
        mean_s, cv = _gap_stats(rec[_RLEN], rec[_S1], rec[_S2])
        out = (
            rec[_B10S + 2] * (1.0 - f10s) + rec[_B10S + 1],
            rec[_B1M + 2] * (1.0 - f1m) + rec[_B1M + 1],
            est_n,
            (rec[_P_STATIC] * w + rec[_C_STATIC]) / est_n,
            est_page / est_n,
            (rec[_P_API] * w + rec[_C_API]) / est_n,
            rec[_P_SENS] * w + rec[_C_SENS],
            (rec[_P_NOREF] * w + rec[_C_NOREF]) / est_page if est_page > 0 else -1.0,
            (rec[_P_ERR] * w + rec[_C_ERR]) / est_resp if est_resp > 0 else -1.0,
            float(pop),
            float(rec[_POPPREV]),
            pop / n_cur,
            mean_s,
            cv,
            float(rec[_LIFE]),
            (t - rec[_FIRST]) / 1e6,
        )

        if store is None:
            irec = self._get(self._ips, ip)
            if irec is None:
                irec = [-1, 0, 0, -1, 0, 0]
                self._put(self._ips, ip, irec)
        else:
            raw = store.get("ml:ip:" + ip, t / 1e6)
            irec = list(_I.unpack(raw)) if raw is not None and len(raw) == _I.size else [
                -1, 0, 0, -1, 0, 0]  # fmt: skip
        f = _roll1(irec, 0, t, W1M)
        b = t // W10M
        if b > irec[3]:
            irec[5] = irec[4] if b == irec[3] + 1 else 0
            irec[4] = 0
            irec[3] = b
        irec[4] |= 1 << ua_hash
        if store is not None:
            store.set("ml:ip:" + ip, _I.pack(*irec), IP_TTL, t / 1e6)
        return (*out, irec[2] * (1.0 - f) + irec[1], float((irec[4] | irec[5]).bit_count()))

    def observe(self, client: str, t: int, status: int) -> None:
        """Count the response to a request of `client` made at `t` (for the error ratio)."""
        rec = self.client_record(client, t)
        if rec is None:
            return
        b = t // W10M
        if b == rec[_B10M]:
            base = _CUR
        elif b == rec[_B10M] - 1:
            base = _PREV
        else:
            return
        rec[base + RESP] += 1
        if status >= 400:
            rec[base + ERR] += 1
        if self.store is not None:
            self.store.set("ml:c:" + client, _C.pack(*rec), CLIENT_TTL, t / 1e6)


_ZEROS8 = [0] * 8
_ZEROS3 = [0] * 3


def _roll1(rec: list[int], i: int, t: int, width: int) -> float:
    """Advance a (bucket, cur, prev) triple at rec[i:i+3] to t's bucket, count the request,
    and return the elapsed fraction of the bucket."""
    b = t // width
    rb = rec[i]
    if b > rb:
        rec[i + 2] = rec[i + 1] if b == rb + 1 else 0
        rec[i + 1] = 0
        rec[i] = b
    rec[i + 1] += 1
    return (t % width) / width


def _gap_stats(n: int, s1: int, s2: int) -> tuple[float, float]:
    """(mean gap in seconds, coefficient of variation) of n gaps in ms; -1 when undefined."""
    if n == 0:
        return -1.0, -1.0
    mean = s1 / n
    if n < 2:
        return mean / 1000.0, -1.0
    var = s2 / n - mean * mean
    cv = math.sqrt(var) / mean if var > 0.0 and mean > 0.0 else 0.0
    return mean / 1000.0, cv


class Ja4Signals:
    """Per-JA4 figures over the last hour, across zones, kept in process: at most
    `capacity` JA4s (LRU), about JA4_RECORD_BYTES each (50,000 → 16 MB)."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._rec: OrderedDict[str, list[int]] = OrderedDict()
        self._total = [-1, 0, 0]

    def __len__(self) -> int:
        return len(self._rec)

    def update(self, ja4: str, t: int, *, browser: bool, heuristic: bool) -> tuple[float, ...]:
        rec = self._rec.get(ja4)
        if rec is None:
            rec = self._rec[ja4] = [-1, 0, 0, 0, 0, 0, 0]
            if len(self._rec) > self.capacity:
                self._rec.popitem(last=False)
        else:
            self._rec.move_to_end(ja4)
        b = t // W1H
        if b > rec[0]:
            if b == rec[0] + 1:
                rec[4:7] = rec[1:4]
            else:
                rec[4:7] = _ZEROS3
            rec[1:4] = _ZEROS3
            rec[0] = b
        rec[1] += 1
        if browser:
            rec[2] += 1
        if heuristic:
            rec[3] += 1
        tot = self._total
        _roll1(tot, 0, t, W1H)
        w = 1.0 - (t % W1H) / W1H
        est = rec[4] * w + rec[1]
        total = tot[2] * w + tot[1]
        return (
            est,
            est / total,
            (rec[5] * w + rec[2]) / est,
            (rec[6] * w + rec[3]) / est,
        )


# -- batch ------------------------------------------------------------------------------------


class _Segments:
    """Rows sorted by (group, time), cut into runs of one (group, bucket)."""

    def __init__(self, group: np.ndarray, bucket: np.ndarray) -> None:
        n = len(group)
        new = np.ones(n, dtype=bool)
        if n > 1:
            new[1:] = (group[1:] != group[:-1]) | (bucket[1:] != bucket[:-1])
        self.seg = np.cumsum(new) - 1
        self.starts = np.flatnonzero(new)
        self.ends = np.r_[self.starts[1:], n] - 1
        gs, bs = group[self.starts], bucket[self.starts]
        adj = np.zeros(len(self.starts), dtype=bool)
        adj[1:] = (gs[1:] == gs[:-1]) & (bs[1:] == bs[:-1] + 1)
        self.adjacent = adj

    def cumulative(self, col: np.ndarray) -> np.ndarray:
        """Running total within each run, this row included."""
        cs = np.cumsum(col)
        base = cs[self.starts] - col[self.starts]
        out: np.ndarray = cs - base[self.seg]
        return out

    def previous_total(self, cur: np.ndarray) -> np.ndarray:
        """Per row: the final total of the same group's previous bucket (0 if not adjacent)."""
        tot = cur[self.ends]
        prev = np.zeros_like(tot)
        prev[1:] = np.where(self.adjacent[1:], tot[:-1], 0)
        out: np.ndarray = prev[self.seg]
        return out


def _estimate(t: np.ndarray, width: int, seg: _Segments, col: np.ndarray) -> np.ndarray:
    cur = seg.cumulative(col)
    prev = seg.previous_total(cur)
    frac = (t % width) / width
    out: np.ndarray = prev * (1.0 - frac) + cur
    return out


def _first_bits(seg: _Segments, bits: np.ndarray) -> np.ndarray:
    """1 where a bit appears for the first time in its run, else 0."""
    key = seg.seg.astype(np.int64) * 64 + bits
    _, first = np.unique(key, return_index=True)
    out = np.zeros(len(bits), dtype=np.int64)
    out[first] = 1
    return out


def batch_client_ip(
    t: np.ndarray,
    client: np.ndarray,
    ip: np.ndarray,
    path_hash: np.ndarray,
    ua_hash: np.ndarray,
    *,
    static: np.ndarray,
    api: np.ndarray,
    sensitive: np.ndarray,
    no_referer: np.ndarray,
    status: np.ndarray,
) -> np.ndarray:
    """CLIENT_FEATURES + IP_FEATURES for time-ordered rows (n × 18 float64)."""
    n = len(t)
    out = np.empty((n, len(CLIENT_FEATURES) + len(IP_FEATURES)), dtype=np.float64)
    order = np.lexsort((np.arange(n), client))
    ts = t[order]
    g = client[order]
    one = np.ones(n, dtype=np.int64)
    st = static[order].astype(np.int64)
    ap = api[order].astype(np.int64)
    pg = np.where(st + ap > 0, 0, 1)
    sens = sensitive[order].astype(np.int64)
    noref = (no_referer[order] & (pg == 1)).astype(np.int64)
    err = (status[order] >= 400).astype(np.int64)

    # life and gaps
    d = np.zeros(n, dtype=np.int64)
    same = np.zeros(n, dtype=bool)
    same[1:] = g[1:] == g[:-1]
    d[1:] = ts[1:] - ts[:-1]
    new_life = ~same | (d >= LIFE_US)
    gap = np.where(new_life, 0, np.minimum(d // 1000, GAP_CAP_MS))
    life_start = np.maximum.accumulate(np.where(new_life, np.arange(n), 0))
    k = np.arange(n) - life_start
    g1 = np.cumsum(gap)
    g2 = np.cumsum(gap * gap)
    lo = np.maximum(np.arange(n) - RING, life_start)
    s1 = g1 - g1[lo]
    s2 = g2 - g2[lo]
    ring = np.minimum(k, RING)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s1 / ring
        var = s2 / ring - mean * mean
        cv = np.where((var > 0.0) & (mean > 0.0), np.sqrt(np.maximum(var, 0.0)) / mean, 0.0)
    mean_s = np.where(ring >= 1, mean / 1000.0, -1.0)
    cv = np.where(ring >= 2, cv, -1.0)

    s10 = _Segments(g, ts // W10S)
    s1m = _Segments(g, ts // W1M)
    s10m = _Segments(g, ts // W10M)
    frac = (ts % W10M) / W10M
    w = 1.0 - frac

    def est10m(col: np.ndarray, exclude_self: bool = False) -> np.ndarray:
        cur = s10m.cumulative(col)
        prev = s10m.previous_total(cur)
        if exclude_self:
            cur = cur - col
        r: np.ndarray = prev * w + cur
        return r

    est_n = est10m(one)
    est_page = est10m(pg)
    est_resp = est10m(one, exclude_self=True)
    est_err = est10m(err, exclude_self=True)
    n_cur = s10m.cumulative(one)
    pop = s10m.cumulative(_first_bits(s10m, path_hash[order]))
    pop_prev = s10m.previous_total(pop)
    with np.errstate(divide="ignore", invalid="ignore"):
        cols = [
            _estimate(ts, W10S, s10, one),
            _estimate(ts, W1M, s1m, one),
            est_n,
            est10m(st) / est_n,
            est_page / est_n,
            est10m(ap) / est_n,
            est10m(sens),
            np.where(est_page > 0, est10m(noref) / est_page, -1.0),
            np.where(est_resp > 0, est_err / est_resp, -1.0),
            pop.astype(np.float64),
            pop_prev.astype(np.float64),
            pop / n_cur,
            mean_s,
            cv,
            (k + 1).astype(np.float64),
            (ts - ts[life_start]) / 1e6,
        ]
    res = np.stack(cols, axis=1)
    out[order, : len(CLIENT_FEATURES)] = res

    # per IP
    order = np.lexsort((np.arange(n), ip))
    ts = t[order]
    g = ip[order]
    s1m = _Segments(g, ts // W1M)
    s10m = _Segments(g, ts // W10M)
    ip_reqs = _estimate(ts, W1M, s1m, one)
    bits = ua_hash[order]
    contrib = np.where(
        _first_bits(s10m, bits) == 1,
        np.left_shift(np.uint64(1), bits.astype(np.uint64)),
        np.uint64(0),
    )
    cum = np.cumsum(contrib, dtype=np.uint64)
    base = cum[s10m.starts] - contrib[s10m.starts]
    cur_bm = cum - base[s10m.seg]
    tot = cur_bm[s10m.ends]
    prev_bm = np.zeros_like(tot)
    prev_bm[1:] = np.where(s10m.adjacent[1:], tot[:-1], np.uint64(0))
    uas = np.bitwise_count(cur_bm | prev_bm[s10m.seg]).astype(np.float64)
    out[order, len(CLIENT_FEATURES)] = ip_reqs
    out[order, len(CLIENT_FEATURES) + 1] = uas
    return out


def batch_ja4(
    t: np.ndarray, ja4: np.ndarray, *, browser: np.ndarray, heuristic: np.ndarray
) -> np.ndarray:
    """JA4_FEATURES for time-ordered rows (n × 4 float64)."""
    n = len(t)
    one = np.ones(n, dtype=np.int64)
    # the all-traffic total: one group
    tot_seg = _Segments(np.zeros(n, dtype=np.int64), t // W1H)
    w_all = 1.0 - (t % W1H) / W1H
    cur = tot_seg.cumulative(one)
    total = tot_seg.previous_total(cur) * w_all + cur
    order = np.lexsort((np.arange(n), ja4))
    ts = t[order]
    seg = _Segments(ja4[order], ts // W1H)
    est = _estimate(ts, W1H, seg, one)
    out = np.empty((n, len(JA4_FEATURES)), dtype=np.float64)
    out[order, 0] = est
    out[:, 1] = out[:, 0] / total
    for j, col in enumerate((browser, heuristic), start=2):
        out[order, j] = _estimate(ts, W1H, seg, col[order].astype(np.int64)) / est
    return out
