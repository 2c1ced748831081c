"""The PyTorch reference for `marketplace bench train`: the same NeuMF (GMF + MLP towers, same
widths), the same batch size, negatives and Adam, on data of the same shape, on this machine's CPU
(all its cores).

MODE `sparse` trains like ours: the embeddings take sparse gradients and a sparse (lazy) Adam, so
a step costs the rows it touches. MODE `dense` is PyTorch's default (dense gradients, Adam over
whole tables): faster on small tables, ruinous on large ones.

Throughput is timed over at most STEPS batches of an epoch after 20 warm-up batches (an epoch of
100k × 100k in PyTorch takes minutes); the epoch time is what that rate gives for a whole epoch.
Prints one JSON line: {"epoch_s", "samples_per_s", "steps", "threads", "mode", "torch"}.

Usage: python3 neumf_torch.py USERS ITEMS INTERACTIONS FACTORS LAYERS(64,32,16) BATCH NEG MODE STEPS
"""
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

users, items, interactions, factors = (int(a) for a in sys.argv[1:5])
layers = [int(w) for w in sys.argv[5].split(",")]
batch, negatives = int(sys.argv[6]), int(sys.argv[7])
mode, max_steps = sys.argv[8], int(sys.argv[9])
assert mode in ("sparse", "dense"), "MODE is sparse or dense"
torch.set_num_threads(os.cpu_count())
torch.manual_seed(42)
rng = np.random.default_rng(42)
WARM_UP = 20


class NeuMF(nn.Module):
    def __init__(self):
        super().__init__()
        table = lambda rows, width: nn.Embedding(rows, width, sparse=mode == "sparse")
        self.ug, self.ig = table(users, factors), table(items, factors)
        self.um, self.im = table(users, layers[0] // 2), table(items, layers[0] // 2)
        self.tables = (self.ug, self.ig, self.um, self.im)
        for e in self.tables:
            nn.init.normal_(e.weight, std=0.01)
        self.mlp = nn.Sequential(*[m for a, b in zip(layers, layers[1:]) for m in (nn.Linear(a, b), nn.ReLU())])
        self.out = nn.Linear(factors + layers[-1], 1)

    def forward(self, u, i):
        gmf = self.ug(u) * self.ig(i)
        mlp = self.mlp(torch.cat([self.um(u), self.im(i)], 1))
        return self.out(torch.cat([gmf, mlp], 1)).squeeze(1)


model = NeuMF()
if mode == "sparse":
    tables = [e.weight for e in model.tables]
    towers = [p for p in model.parameters() if all(p is not t for t in tables)]
    optimizers = [torch.optim.SparseAdam(tables, lr=0.002), torch.optim.Adam(towers, lr=0.002)]
else:
    optimizers = [torch.optim.Adam(model.parameters(), lr=0.002)]
loss_fn = nn.BCEWithLogitsLoss()

# One epoch's samples: every positive and `negatives` random items per positive, shuffled.
pos_u = rng.integers(0, users, interactions)
pos_i = rng.integers(0, items, interactions)
u = np.concatenate([pos_u, np.repeat(pos_u, negatives)])
i = np.concatenate([pos_i, rng.integers(0, items, interactions * negatives)])
y = np.concatenate([np.ones(interactions), np.zeros(interactions * negatives)]).astype(np.float32)
order = rng.permutation(len(u))
u, i, y = torch.from_numpy(u[order]), torch.from_numpy(i[order]), torch.from_numpy(y[order])

steps, started = 0, None
for n, start in enumerate(range(0, len(u), batch)):
    if n == WARM_UP:
        started = time.perf_counter()
    if n >= WARM_UP + max_steps:
        break
    for optimizer in optimizers:
        optimizer.zero_grad()
    loss = loss_fn(model(u[start:start + batch], i[start:start + batch]), y[start:start + batch])
    loss.backward()
    for optimizer in optimizers:
        optimizer.step()
    steps += n >= WARM_UP
seconds = time.perf_counter() - started
rate = steps * batch / seconds
print(json.dumps({
    "epoch_s": len(u) / rate, "samples_per_s": rate, "steps": steps,
    "threads": torch.get_num_threads(), "mode": mode, "torch": torch.__version__,
}))
