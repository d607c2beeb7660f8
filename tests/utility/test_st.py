#!/usr/bin/python3
"""Self-test of st.py: byte-exact round trip for every dtype (BF16 and F16
included), BF16 round-to-nearest-even against torch, and validation errors.
usage: test_st.py   (prints "test_st: OK", exit 0; raises on failure)"""

import json
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np
import st


def main():
    tmp = tempfile.mkdtemp(prefix="test_st.")
    p = lambda n: os.path.join(tmp, n)
    rng = np.random.default_rng(0)
    f = rng.standard_normal((3, 5)).astype(np.float32)
    f[0, 0], f[0, 1], f[0, 2] = np.nan, np.inf, -0.0
    x = {
        "f64": rng.standard_normal((2, 3)), "f32": f,
        "f16": f.astype(np.float16), "bf16": f,
        "i64": np.array(7, dtype=np.int64),
        "i32": np.arange(-3, 3, dtype=np.int32),
        "i16": np.arange(4, dtype=np.int16).reshape(2, 2),
        "i8": np.array([-128, 127], np.int8), "u8": np.arange(5, dtype=np.uint8),
        "bool": np.array([True, False, True]),
        "empty": np.zeros((0, 4), np.float32),
        "transposed": np.arange(6, dtype=np.int32).reshape(2, 3).T,
    }
    st.save(p("a"), x, {"k": "v"}, dtypes={"bf16": "BF16"})
    raw_a = open(p("a"), "rb").read()
    assert (8 + struct.unpack("<Q", raw_a[:8])[0]) % 8 == 0
    t, m, d = st.load_with_dtypes(p("a"))
    assert m == {"k": "v"}
    assert list(d.values()) == ["F64", "F32", "F16", "BF16", "I64", "I32",
                                "I16", "I8", "U8", "BOOL", "F32", "I32"], d
    for k in x:
        if k != "bf16":
            assert t[k].dtype == x[k].dtype and t[k].shape == x[k].shape, k
            assert t[k].tobytes() == np.ascontiguousarray(x[k]).tobytes(), k
    assert t["bf16"].dtype == np.float32 and np.isnan(t["bf16"][0, 0])
    st.save(p("b"), t, m, dtypes=d)
    assert open(p("b"), "rb").read() == raw_a, "round trip not byte-exact"

    # BF16: round to nearest even, NaN stays NaN
    v = np.array([1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-20, -3.14159,
                  65504.0, 3.4e38, 1e-40, 0.0, -0.0], np.float32)
    want = [0x3F80, 0x3F82, 0x3F81, 0xC049, 0x4780, 0x7F80, 0x0001, 0, 0x8000]
    assert st.f32_to_bf16_bits(v).tolist() == want, st.f32_to_bf16_bits(v)
    nan = np.array([0x7F800001, 0xFFC00000], np.uint32).view(np.float32)
    assert np.isnan(st.bf16_bits_to_f32(st.f32_to_bf16_bits(nan))).all()
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        big = (rng.standard_normal(100000) * 1e3).astype(np.float32)
        ref = torch.from_numpy(big).to(torch.bfloat16).view(torch.int16)
        assert (st.f32_to_bf16_bits(big) == ref.numpy().view(np.uint16)).all()
        sd = {"w": torch.randn(4, 4).to(torch.bfloat16), "n": torch.tensor(3),
              "h": torch.randn(3).half()}
        st.save_state_dict(p("c"), sd)
        sd2, _ = st.load_state_dict(p("c"))
        for k in sd:
            assert sd2[k].dtype == sd[k].dtype and torch.equal(sd2[k], sd[k]), k

    def bad(hdr, data=b"", raw=None, want=""):
        h = raw if raw is not None else json.dumps(hdr).encode()
        with open(p("bad"), "wb") as fh:
            fh.write(struct.pack("<Q", len(h)) + h + data)
        try:
            st.load(p("bad"))
        except st.SafetensorsError as e:
            assert want in str(e), (want, str(e))
            return
        raise AssertionError("accepted bad file: %r" % (raw or hdr))

    T = lambda dt, sh, b, e: {"dtype": dt, "shape": sh, "data_offsets": [b, e]}
    bad({"a": T("F32", [2], 0, 8)}, b"\0" * 4, want="outside data")
    bad({"a": T("F32", [2], 0, 4)}, b"\0" * 4, want="needs 8 bytes")
    bad({"a": T("X9", [1], 0, 4)}, b"\0" * 4, want="unknown dtype")
    bad({"a": T("F32", [1], 0, 4), "b": T("F32", [1], 2, 6)}, b"\0" * 6,
        want="overlap")
    bad({"a": T("F32", [1], 4, 8)}, b"\0" * 8, want="hole")
    bad({"a": T("F32", [1], 0, 4)}, b"\0" * 6, want="trailing")
    bad({"a": T("F32", [-1], 0, 0)}, want="bad shape")
    bad({"a": T("F32", [1], 4, 0)}, b"\0" * 4, want="outside data")
    bad(None, raw=b'{"a":1,"a":2}', want="duplicate")
    bad(None, raw=b'{"__metadata__":{"k":1}}', want="not a string")
    bad(None, raw=b'\xff\xfe', want="UTF-8")
    bad(None, raw=b'{"a":' * 100000 + b'1' + b'}' * 100000, want="deeply")
    bad(None, raw=b'{"a"', want="JSON")
    with open(p("bad"), "wb") as fh:
        fh.write(struct.pack("<Q", 2**62))
    try:
        st.load(p("bad"))
        raise AssertionError("accepted huge header")
    except st.SafetensorsError as e:
        assert "exceeds" in str(e)
    for n in os.listdir(tmp):
        os.unlink(p(n))
    os.rmdir(tmp)
    print("test_st: OK")


if __name__ == "__main__":
    main()
