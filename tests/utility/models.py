"""Four small Fashion-MNIST classifiers (input (N, 1, 28, 28), 10 classes)
and a small byte-level language model.

Built only from standard torch.nn modules, so state_dict names are the usual
PyTorch ones.  build(arch) returns a fresh nn.Module.

  mlp   784-256-128-10, ReLU
  cnn   ResNet-style: conv-bn-relu-maxpool stem (28 -> 14), 3 residual
        basic blocks with BatchNorm2d (16 -> 32 -> 64 channels, stride 1/2/2,
        1x1 conv+BN shortcut when the shape changes), global average pool,
        linear head
  vit   Vision Transformer: 7x7 patch-embedding conv (16 patches), cls_token,
        pos_embed, 3 pre-norm nn.TransformerEncoderLayer (d=64, 4 heads,
        ff 128, GELU, batch_first), LayerNorm, linear head
  lstm  1-layer nn.LSTM (hidden 128) reading the image row by row
        (28 steps x 28 features), linear head on the last step
  lm    decoder-only transformer over bytes (lmdata.py): token and learned
        position embeddings (context 128), 4 pre-norm causal
        nn.TransformerEncoderLayer (d=128, 4 heads, ff 512, GELU,
        batch_first), LayerNorm, untied linear head to 256 logits;
        input (N, T <= 128) int64, output (N, T, 256)
"""

import torch
from torch import nn

ARCHS = ("mlp", "cnn", "vit", "lstm", "lm")


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 10)

    def forward(self, x):
        x = x.flatten(1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False),
                nn.BatchNorm2d(cout))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class CNN(nn.Module):
    def __init__(self, widths=(16, 32, 64)):
        super().__init__()
        w0, w1, w2 = widths
        self.conv1 = nn.Conv2d(1, w0, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w0)
        self.pool = nn.MaxPool2d(2)           # 28x28 -> 14x14
        self.layer1 = BasicBlock(w0, w0, 1)   # 14x14
        self.layer2 = BasicBlock(w0, w1, 2)   # 7x7
        self.layer3 = BasicBlock(w1, w2, 2)   # 4x4
        self.fc = nn.Linear(w2, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = x.mean(dim=(2, 3))
        return self.fc(x)


class ViT(nn.Module):
    def __init__(self, patch=7, dim=64, depth=3, heads=4, ff=128):
        super().__init__()
        n = (28 // patch) ** 2
        self.patch_embed = nn.Conv2d(1, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        layer = nn.TransformerEncoderLayer(
            dim, heads, ff, dropout=0.0, activation="gelu",
            batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth,
                                             enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)   # (N, 16, dim)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embed
        x = self.encoder(x)
        return self.head(self.norm(x[:, 0]))


class LSTM(nn.Module):
    def __init__(self, hidden=128, layers=1):
        super().__init__()
        self.lstm = nn.LSTM(28, hidden, num_layers=layers, batch_first=True)
        self.fc = nn.Linear(hidden, 10)

    def forward(self, x):
        out, _ = self.lstm(x.reshape(x.shape[0], 28, 28))
        return self.fc(out[:, -1])


class LM(nn.Module):
    def __init__(self, vocab=256, context=128, dim=128, depth=4, heads=4,
                 ff=512):
        super().__init__()
        self.tok_embed = nn.Embedding(vocab, dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, context, dim))
        nn.init.normal_(self.tok_embed.weight, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.02)
        layer = nn.TransformerEncoderLayer(
            dim, heads, ff, dropout=0.0, activation="gelu",
            batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth,
                                            enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)
        # Additive causal mask: position t attends to 0..t only.
        self.register_buffer("mask", torch.triu(
            torch.full((context, context), float("-inf")), 1),
            persistent=False)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.tok_embed(idx) + self.pos_embed[:, :t]
        x = self.blocks(x, mask=self.mask[:t, :t])
        return self.head(self.norm(x))


def build(arch):
    if arch == "mlp":
        return MLP()
    if arch == "cnn":
        return CNN()
    if arch == "vit":
        return ViT()
    if arch == "lstm":
        return LSTM()
    if arch == "lm":
        return LM()
    raise ValueError("unknown arch %r (expected one of %s)"
                     % (arch, ", ".join(ARCHS)))
