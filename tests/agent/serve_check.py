#!/usr/bin/python3
"""serve_check.py URL ARCH ORIGINAL N: POST the first N Fashion-MNIST test
images to URL/predict and compare the classes with the ORIGINAL model's own
(loaded here with tests/utility/st.py).  Prints "same=S of N served_accuracy=A"."""
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "utility"))
import data  # noqa: E402
import models  # noqa: E402
import st  # noqa: E402
import torch  # noqa: E402

url, arch, orig, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
x, y = data.load_numpy("test")
x, y = x[:n], y[:n]
req = urllib.request.Request(url + "/predict", data=x.tobytes(), headers={"Content-Type": "application/octet-stream"})
served = json.load(urllib.request.urlopen(req, timeout=120))["classes"]
torch.set_num_threads(1)
net = models.build(arch)
sd, _ = st.load_state_dict(orig)
net.load_state_dict(sd, strict=True)
xt, _ = data.load("test")
with torch.no_grad():
    ref = net.eval()(xt[:n]).argmax(1).tolist()
same = sum(1 for a, b in zip(served, ref) if a == b)
acc = sum(1 for a, b in zip(served, y.tolist()) if a == b) * 100.0 / n
print("same=%d of %d served_accuracy=%.2f" % (same, n, acc))
