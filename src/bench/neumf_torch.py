"""The PyTorch reference for `marketplace bench train`: the same NeuMF (GMF + MLP towers, same
widths), the same batch size, negatives and Adam, on data of the same shape, timed per epoch on
this machine's CPU. Prints one JSON line per dataset: {"name", "samples_per_s", "epoch_s"}.

Usage: python3 neumf_torch.py USERS ITEMS INTERACTIONS FACTORS LAYERS(64,32,16) BATCH NEG EPOCHS
"""
import json, sys, time
import numpy as np
import torch
from torch import nn

users, items, interactions, factors = (int(a) for a in sys.argv[1:5])
layers = [int(w) for w in sys.argv[5].split(",")]
batch, negatives, epochs = (int(a) for a in sys.argv[6:9])
torch.manual_seed(42)
rng = np.random.default_rng(42)

class NeuMF(nn.Module):
    def __init__(self):
        super().__init__()
        self.ug = nn.Embedding(users, factors); self.ig = nn.Embedding(items, factors)
        self.um = nn.Embedding(users, layers[0] // 2); self.im = nn.Embedding(items, layers[0] // 2)
        for e in (self.ug, self.ig, self.um, self.im):
            nn.init.normal_(e.weight, std=0.01)
        self.mlp = nn.Sequential(*[m for a, b in zip(layers, layers[1:]) for m in (nn.Linear(a, b), nn.ReLU())])
        self.out = nn.Linear(factors + layers[-1], 1)
    def forward(self, u, i):
        gmf = self.ug(u) * self.ig(i)
        mlp = self.mlp(torch.cat([self.um(u), self.im(i)], 1))
        return self.out(torch.cat([gmf, mlp], 1)).squeeze(1)

model = NeuMF()
optimizer = torch.optim.Adam(model.parameters(), lr=0.002)
loss_fn = nn.BCEWithLogitsLoss()
pos_u = rng.integers(0, users, interactions); pos_i = rng.integers(0, items, interactions)
best = None
for epoch in range(epochs):
    started = time.perf_counter()
    u = np.concatenate([pos_u, np.repeat(pos_u, negatives)])
    i = np.concatenate([pos_i, rng.integers(0, items, interactions * negatives)])
    y = np.concatenate([np.ones(interactions), np.zeros(interactions * negatives)]).astype(np.float32)
    order = rng.permutation(len(u))
    u, i, y = torch.from_numpy(u[order]), torch.from_numpy(i[order]), torch.from_numpy(y[order])
    for start in range(0, len(u), batch):
        optimizer.zero_grad()
        loss = loss_fn(model(u[start:start + batch], i[start:start + batch]), y[start:start + batch])
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - started
    best = seconds if best is None else min(best, seconds)
samples = interactions * (1 + negatives)
print(json.dumps({"epoch_s": best, "samples_per_s": samples / best, "threads": torch.get_num_threads()}))
