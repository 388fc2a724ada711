"""PyTorch reference for `npm run bench`: the same workload as bench/worker.ts.

Batch 64, sequence length 50, 16 input features, one LSTM or GRU layer of 128 units, a dense softmax
over 10 classes, Adam lr 1e-3, cross-entropy, seeded random data. Prints one JSON line: training
samples/s over the epochs after the first, and inference samples/s.

Usage: python3 bench/torch_reference.py CELL THREADS SAMPLES EPOCHS
"""
import json
import sys
import time

import torch

cell, threads, samples, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(1)
B, T, F, H, C = 64, 50, 16, 128, 10


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(F, H, batch_first=True)
        self.out = torch.nn.Linear(H, C)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.out(y[:, -1, :])


x = torch.rand(samples, T, F) * 2 - 1
y = torch.randint(0, C, (samples,))
net = Net()
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()

ends = [time.perf_counter()]
for epoch in range(epochs):
    perm = torch.randperm(samples)
    for i in range(0, samples, B):
        idx = perm[i : i + B]
        opt.zero_grad()
        loss = loss_fn(net(x[idx]), y[idx])
        loss.backward()
        opt.step()
    ends.append(time.perf_counter())
train = samples * (epochs - 1) / (ends[-1] - ends[1])

with torch.no_grad():
    net(x[:B])
    start = time.perf_counter()
    for i in range(0, samples, B):
        torch.softmax(net(x[i : i + B]), dim=1)
    infer = samples / (time.perf_counter() - start)

print(json.dumps({"torch": torch.__version__, "threads": threads, "train": train, "infer": infer}))
