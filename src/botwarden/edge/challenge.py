"""The challenge interstitial and the `cf_clearance` cookie.

A challenged request gets a small HTML page whose JavaScript finds a proof of work: a
counter such that SHA-256(token ":" counter) starts with `difficulty` zero bits (2^15
hashes on average by default: a fraction of a second in a browser, a real cost for a bot
fleet). It posts the answer to `/cdn-cgi/challenge-platform/verify`; a correct answer to
a live, unused token earns a `cf_clearance` cookie, and the page reloads the address it
interrupted. The token and the cookie are HMAC-signed and bound to the zone, the client
IP and the user agent, so a clearance cannot be handed to another client; both expire
(`challenge_ttl`, `clearance_ttl`). Keys are derived from the session key ring, so they
rotate with it.

The JavaScript-detections engine of a later issue replaces the proof of work with real
browser checks; the cookie and endpoints stay.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botwarden.state.base import StateStore

VERIFY_PATH = "/cdn-cgi/challenge-platform/verify"
PAGE_PATH = "/cdn-cgi/challenge"
_TOKEN_VERSION = "v1"
_MAC_BYTES = 18


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _binding(ip: str, user_agent: str) -> bytes:
    return hashlib.sha256(f"{ip}\x00{user_agent}".encode("utf-8", "surrogatepass")).digest()


def leading_zero_bits_ok(token: str, answer: str, difficulty: int) -> bool:
    digest = hashlib.sha256(f"{token}:{answer}".encode("ascii", "replace")).digest()
    return int.from_bytes(digest[:4], "big") >> (32 - difficulty) == 0


def solve(token: str, difficulty: int) -> str:
    """The answer a browser finds (for tests and the simulator)."""
    n = 0
    while not leading_zero_bits_ok(token, str(n), difficulty):
        n += 1
    return str(n)


def safe_return_path(value: str | None) -> str:
    """A same-site path to go back to: anything else (absolute URLs, `//host`) is `/`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 0x20 for c in value):
        return "/"
    return value


class Challenges:
    def __init__(
        self,
        keys: Sequence[bytes],
        *,
        difficulty: int = 15,
        token_ttl: float = 300.0,
        clearance_ttl: float = 1800.0,
        cookie_name: str = "cf_clearance",
        state: StateStore | None = None,
    ) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self.keys = [hashlib.sha256(b"botwarden-challenge\x00" + k).digest() for k in keys]
        self.difficulty = difficulty
        self.token_ttl = token_ttl
        self.clearance_ttl = clearance_ttl
        self.cookie_name = cookie_name
        self.state = state

    def _mac(self, key: bytes, *parts: str | bytes) -> str:
        msg = b"\x00".join(p if isinstance(p, bytes) else p.encode() for p in parts)
        return _b64(hmac.new(key, msg, hashlib.sha256).digest()[:_MAC_BYTES])

    def _valid_mac(self, mac: str, *parts: str | bytes) -> bool:
        return any(hmac.compare_digest(mac, self._mac(k, *parts)) for k in self.keys)

    # -- the challenge ------------------------------------------------------------------

    def token(self, zone_id: str, ip: str, user_agent: str, now: float) -> str:
        exp = str(int(now + self.token_ttl))
        nonce = _b64(secrets.token_bytes(12))
        d = str(self.difficulty)
        mac = self._mac(self.keys[0], "chal", zone_id, exp, d, nonce, _binding(ip, user_agent))
        return ".".join((_TOKEN_VERSION, exp, d, nonce, mac))

    def check_answer(
        self, token: str, answer: str, zone_id: str, ip: str, user_agent: str, now: float
    ) -> str | None:
        """None when the answer earns a clearance, else why not (for logs and the client)."""
        parts = token.split(".")
        if len(parts) != 5 or parts[0] != _TOKEN_VERSION:
            return "malformed token"
        _, exp, d, nonce, mac = parts
        if not (exp.isdigit() and d.isdigit()) or not 1 <= int(d) <= 30:
            return "malformed token"
        if not self._valid_mac(mac, "chal", zone_id, exp, d, nonce, _binding(ip, user_agent)):
            return "token not issued to this client"
        if int(exp) < now:
            return "token expired"
        if not (answer.isdigit() and len(answer) <= 20):
            return "malformed answer"
        if not leading_zero_bits_ok(token, answer, int(d)):
            return "wrong answer"
        if self.state is not None:
            key = f"chal:{nonce}"
            if self.state.get(key, now) is not None:
                return "token already used"
            self.state.set(key, b"1", self.token_ttl, now)
        return None

    def page(self, *, token: str, kind: str, return_to: str, host: str, ray: str) -> bytes:
        """The interstitial (served with status 403, like Cloudflare's)."""
        config = json.dumps(
            {"token": token, "difficulty": int(token.split(".")[2]),
             "verify": VERIFY_PATH, "back": safe_return_path(return_to), "kind": kind}
        ).replace("<", "\\u003c")  # fmt: skip
        return _PAGE.format(
            host=html.escape(host or "this site"), ray=html.escape(ray), config=config, js=_JS
        ).encode()

    # -- the clearance ------------------------------------------------------------------

    def clearance(self, zone_id: str, ip: str, user_agent: str, now: float) -> str:
        exp = str(int(now + self.clearance_ttl))
        mac = self._mac(self.keys[0], "clr", zone_id, exp, _binding(ip, user_agent))
        return f"{exp}.{mac}"

    def has_clearance(
        self, value: str | None, zone_id: str, ip: str, user_agent: str, now: float
    ) -> bool:
        if not value:
            return False
        exp, _, mac = value.partition(".")
        if not exp.isdigit() or int(exp) < now:
            return False
        return self._valid_mac(mac, "clr", zone_id, exp, _binding(ip, user_agent))

    def set_cookie(self, value: str, *, secure: bool) -> str:
        same_site = "None; Secure" if secure else "Lax"
        return (
            f"{self.cookie_name}={value}; Path=/; Max-Age={int(self.clearance_ttl)}; "
            f"HttpOnly; SameSite={same_site}"
        )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex,nofollow">
<title>Just a moment...</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:12vh auto;padding:0 1em;
color:#222}}small{{color:#777}}</style></head>
<body><h1>Checking your browser</h1>
<p id="bw-status">{host} needs a moment to make sure you are not a bot.</p>
<noscript><p>Please enable JavaScript and reload the page.</p></noscript>
<p><small>Botwarden · Ray ID {ray}</small></p>
<script id="bw-config" type="application/json">{config}</script>
<script>{js}</script>
</body></html>
"""

# A compact SHA-256 over an ASCII string (crypto.subtle is missing on plain-HTTP origins,
# and one synchronous hash is faster than one awaited digest). Only the first word of the
# hash is needed: difficulty is at most 30 bits.
_JS = r"""
(function(){
var K=[0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,
0xab1c5ed5,0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,
0xc19bf174,0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,
0x76f988da,0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,
0x14292967,0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,
0x92722c85,0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,
0x106aa070,0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,
0x682e6ff3,0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,
0xc67178f2];
var W=new Int32Array(64);
function first(s){
  var n=s.length,l=((n+9+63)>>6)<<6,b=new Uint8Array(l),i,o;
  for(i=0;i<n;i++)b[i]=s.charCodeAt(i)&255;
  b[n]=0x80;var bits=n*8;b[l-4]=bits>>>24;b[l-3]=(bits>>>16)&255;b[l-2]=(bits>>>8)&255;
  b[l-1]=bits&255;
  var h0=0x6a09e667,h1=0xbb67ae85,h2=0x3c6ef372,h3=0xa54ff53a,h4=0x510e527f,h5=0x9b05688c,
      h6=0x1f83d9ab,h7=0x5be0cd19;
  for(o=0;o<l;o+=64){
    for(i=0;i<16;i++)W[i]=(b[o+4*i]<<24)|(b[o+4*i+1]<<16)|(b[o+4*i+2]<<8)|b[o+4*i+3];
    for(i=16;i<64;i++){var x=W[i-15],y=W[i-2];
      var s0=((x>>>7)|(x<<25))^((x>>>18)|(x<<14))^(x>>>3);
      var s1=((y>>>17)|(y<<15))^((y>>>19)|(y<<13))^(y>>>10);
      W[i]=(W[i-16]+s0+W[i-7]+s1)|0;}
    var a=h0,c=h2,d=h3,e=h4,f=h5,g=h6,h=h7,bb=h1;
    for(i=0;i<64;i++){
      var S1=((e>>>6)|(e<<26))^((e>>>11)|(e<<21))^((e>>>25)|(e<<7));
      var t1=(h+S1+((e&f)^(~e&g))+K[i]+W[i])|0;
      var S0=((a>>>2)|(a<<30))^((a>>>13)|(a<<19))^((a>>>22)|(a<<10));
      var t2=(S0+((a&bb)^(a&c)^(bb&c)))|0;
      h=g;g=f;f=e;e=(d+t1)|0;d=c;c=bb;bb=a;a=(t1+t2)|0;}
    h0=(h0+a)|0;h1=(h1+bb)|0;h2=(h2+c)|0;h3=(h3+d)|0;h4=(h4+e)|0;h5=(h5+f)|0;h6=(h6+g)|0;
    h7=(h7+h)|0;}
  return h0>>>0;
}
var cfg=JSON.parse(document.getElementById("bw-config").textContent);
var status=document.getElementById("bw-status");
var shift=32-cfg.difficulty,n=0,prefix=cfg.token+":";
function work(){
  var stop=Date.now()+50;
  while(Date.now()<stop){
    for(var k=0;k<2000;k++,n++){if((first(prefix+n)>>>shift)===0){return done(n);}}
  }
  setTimeout(work,0);
}
function done(answer){
  var body="token="+encodeURIComponent(cfg.token)+"&answer="+answer;
  fetch(cfg.verify,{method:"POST",credentials:"same-origin",
    headers:{"Content-Type":"application/x-www-form-urlencoded"},body:body})
  .then(function(r){
    if(r.ok){location.replace(cfg.back);}
    else{status.textContent="The check failed. Reload the page to try again.";}
  },function(){status.textContent="The check could not be sent. Reload the page.";});
}
window.__bwFirstWord=first;
setTimeout(work,0);
})();
"""
