"""The training step every PyTorch peer times: t uniform over 1000 steps, the cosine schedule's x_t,
ε-MSE, backward, global-norm clipping at 1, AdamW and the EMA of the weights (carnot's step
always updates its EMA: the peer pays for it too); images/s over `steps` after `warmup`.
On a GPU: x0 lives there, the forward and loss run under bf16 autocast when asked (fp32 master
weights and AdamW state, as carnot's train.precision bf16), and the clock reads after a sync."""
import contextlib
import math
import time

import torch

EMA_DECAY = 0.9999  # what the decay is does not change the cost


def images_per_second(predict_eps, parameters, x0, steps, warmup, lr, autocast_bf16=False):
    """predict_eps(x_t, t) -> ε̂ for the batch x0 (random images on the model's device; data
    loading is not timed)."""
    parameters = list(parameters)
    device = x0.device
    fused = {"fused": True} if device.type == "cuda" else {}
    opt = torch.optim.AdamW(parameters, lr=lr, weight_decay=0, **fused)
    ema = [p.detach().clone() for p in parameters]
    batch = x0.shape[0]

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def step():
        t = torch.randint(0, 1000, (batch,), device=device)
        eps = torch.randn_like(x0)
        ab = torch.cos((t.float() / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2
        xt = ab.sqrt()[:, None, None, None] * x0 + (1 - ab).sqrt()[:, None, None, None] * eps
        cast = torch.autocast(device.type, dtype=torch.bfloat16) if autocast_bf16 else contextlib.nullcontext()
        with cast:
            loss = ((predict_eps(xt, t).float() - eps) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        opt.step()
        with torch.no_grad():  # one multi-tensor pass each, as the fused AdamW
            torch._foreach_mul_(ema, EMA_DECAY)
            torch._foreach_add_(ema, parameters, alpha=1 - EMA_DECAY)

    for _ in range(warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return batch * steps / (time.perf_counter() - t0)
