"""The training step both PyTorch peers time: t uniform over 1000 steps, the cosine schedule's x_t,
ε-MSE, backward, global-norm clipping at 1 and AdamW; images/s over `steps` after `warmup`."""
import math
import time

import torch


def images_per_second(predict_eps, parameters, x0, steps, warmup, lr):
    """predict_eps(x_t, t) -> ε̂ for the batch x0 (random images; data loading is not timed)."""
    parameters = list(parameters)
    opt = torch.optim.AdamW(parameters, lr=lr, weight_decay=0)
    batch = x0.shape[0]

    def step():
        t = torch.randint(0, 1000, (batch,))
        eps = torch.randn_like(x0)
        ab = torch.cos((t.float() / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2
        xt = ab.sqrt()[:, None, None, None] * x0 + (1 - ab).sqrt()[:, None, None, None] * eps
        loss = ((predict_eps(xt, t) - eps) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        opt.step()

    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t0)
