"""Independent numpy computations shared by the plugin checks (tests/plugins/*.py):
dA by trapezoids over height and width, and the Manning-type flow laws."""
import math

import numpy as np


def d_area(hw):
    s = sorted((h, w) for h, w in hw)
    hs = np.array([p[0] for p in s]); ws = np.array([p[1] for p in s])
    cum = np.concatenate([[0.0], np.cumsum(np.diff(hs) * (ws[1:] + ws[:-1]) / 2)])
    def integral(h):
        i = np.searchsorted(hs, h, side="right")
        if i == len(hs):
            return cum[-1] + (h - hs[-1]) * ws[-1]
        return cum[i - 1] + (h - hs[i - 1]) * (ws[i - 1] + np.interp(h, hs, ws)) / 2
    ref = float(np.median(hs))
    return lambda h: integral(h) - integral(ref)


def momma(wse, w, s, hu, wu, b, h, save):
    """Bjerklie's MOMMA as the SWOT L2 processing evaluates it, derived anew:
    ln Q = -ln n + 5/3 ln Y + ln W + 1/2 ln S, Y = wse - B, n = nb (1 + log10((H-B)/Y))."""
    y = wse - b
    nd = 1 + np.log10((h - b) / y) if wse < h else 1.0
    n = 0.11 * save ** 0.18 * nd
    q = y ** (5 / 3) * w * math.sqrt(s) / n
    dlnq = 5 / (3 * y) + (1 / (nd * y * math.log(10)) if wse < h else 0.0)
    return q, q * math.sqrt((dlnq * hu) ** 2 + (wu / w) ** 2)


def expected(da, w, s, hu, wu, PARAMS):
    a = PARAMS["a0"] + da
    out = {}
    for name, ln_inv_n, ca, cw in [
        ("manning", -math.log(PARAMS["n"]), 5 / 3, -2 / 3),
        ("metroman", -(math.log(PARAMS["n_inf"]) + PARAMS["p"] * math.log(a / w)), 5 / 3 - PARAMS["p"], -2 / 3 + PARAMS["p"]),
        ("hivdi", math.log(PARAMS["alpha"]) + PARAMS["beta"] * math.log(a / w), 5 / 3 + PARAMS["beta"], -2 / 3 - PARAMS["beta"]),
    ]:
        n = math.exp(-ln_inv_n)
        q = (1 / n) * a ** (5 / 3) * w ** (-2 / 3) * math.sqrt(s)
        rel = math.sqrt((ca * w / a * hu) ** 2 + (cw / w * wu) ** 2)
        out[name] = (q, q * rel)
    return out
