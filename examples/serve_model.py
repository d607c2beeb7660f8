#!/usr/bin/python3
"""serve_model.py - a PyTorch Fashion-MNIST inference server, started by
`corelocker-agent run` so that its weights never touch the disk:

  corelocker-agent run cnn.locked.safetensors --server URL --license KEY \\
      -- python3 examples/serve_model.py --arch cnn --port 8080

The weights come from $CORELOCKER_MODEL (or --model): a safetensors file,
or a sharded model's index (JSON whose weight_map names each shard's path,
as `run` generates it: /proc/self/fd/N).  They are read with the
`safetensors` package when it is installed, else with the small reader
below (numpy + json over a read-only mapping): the same format either way.

HTTP on a loopback address:
  POST /predict   body: N x 784 bytes (28x28 uint8 pixels, row by row)
                  -> {"classes":[...],"labels":[...]}
  GET  /healthz   -> {"arch":...,"tensors":...}
The line "serving ARCH on http://HOST:PORT" on stdout says it is ready
(--port 0 takes any free port).  SIGTERM ends it with status 0.
"""

import argparse
import json
import mmap
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np

LABELS = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
          "Ankle boot")
MEAN, STD = 0.2860, 0.3530  # the training pixels' (tests/utility/data.py)
MAX_IMAGES = 10000

DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
          "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def read_safetensors(path):
    """{name: numpy array} of one safetensors file (no `safetensors` package needed)."""
    with open(path, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    n = int.from_bytes(m[:8], "little")
    if n > len(m) - 8 or n > 100 << 20:
        raise ValueError("%s: not a safetensors file" % path)
    header = json.loads(m[8:8 + n])
    base, out = 8 + n, {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        start, end = t["data_offsets"]
        raw = m[base + start:base + end]
        if t["dtype"] == "BF16":  # numpy has no bfloat16: widen to float32
            a = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, DTYPES[t["dtype"]])
        out[name] = a.reshape(t["shape"]).copy()
    return out


def load_file(path):
    try:
        from safetensors.numpy import load_file as st_load
    except ImportError:
        return read_safetensors(path)
    return st_load(path)


def load_weights(path):
    """A file, or a sharded index (told apart by content: /proc/self/fd/N has no suffix)."""
    with open(path, "rb") as f:
        first = f.read(1)
    if first != b"{":
        return load_file(path)
    with open(path) as f:
        wm = json.load(f)["weight_map"]
    weights = {}
    for shard in sorted(set(wm.values())):
        weights.update(load_file(os.path.join(os.path.dirname(path), shard)))
    return weights


def build(arch, models_py):
    sys.path.insert(0, os.path.dirname(os.path.abspath(models_py)))
    import models
    return models.build(arch)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", default="cnn", help="mlp, cnn, vit or lstm (default cnn)")
    ap.add_argument("--model", default=os.environ.get("CORELOCKER_MODEL"),
                    help="the weights (default: $CORELOCKER_MODEL, set by corelocker-agent run)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--models-py", default=os.path.join(here, "..", "tests", "utility", "models.py"),
                    help="the module defining the architectures (models.build)")
    a = ap.parse_args()
    if not a.model:
        ap.error("no model: run under corelocker-agent run, or give --model")

    import torch
    torch.set_num_threads(1)
    try:
        weights = load_weights(a.model)
        net = build(a.arch, a.models_py)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        sys.stderr.write("serve_model.py: cannot load %s as %s: %s\n" % (a.model, a.arch, e))
        sys.exit(2)
    net.eval()

    class Handler(BaseHTTPRequestHandler):
        def reply(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/healthz":
                self.reply(200, {"arch": a.arch, "tensors": len(weights)})
            else:
                self.reply(404, {"error": "no such path"})

        def do_POST(self):
            if self.path != "/predict":
                return self.reply(404, {"error": "no such path"})
            n = int(self.headers.get("Content-Length") or 0)
            if n <= 0 or n % 784 or n // 784 > MAX_IMAGES:
                return self.reply(400, {"error": "the body must be 1 to %d images of 784 bytes" % MAX_IMAGES})
            px = np.frombuffer(self.rfile.read(n), np.uint8).astype(np.float32)
            x = torch.from_numpy(((px / 255.0 - MEAN) / STD).astype(np.float32).reshape(-1, 1, 28, 28))
            with torch.no_grad():
                classes = net(x).argmax(1).tolist()
            self.reply(200, {"classes": classes, "labels": [LABELS[c] for c in classes]})

        def log_message(self, fmt, *args):
            pass  # one line per request would drown the agent's lines

    srv = HTTPServer((a.host, a.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("serving %s on http://%s:%d" % (a.arch, a.host, srv.server_address[1]), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
