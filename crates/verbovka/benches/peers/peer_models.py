"""The shipped verbovka encoder rebuilt for the peers, from the same files.

* `build_onnx(model_dir)`: an ONNX graph written with `onnx.helper` (opset 17: LayerNormalization),
  inputs `ids` int64 [B, T] and `mask` float32 [B, T] (1 = token, 0 = padding), output `logits`
  [B, 3]. Padding is masked exactly as verbovka's candle encoder does (additive -1e9 key bias,
  masked mean pooling, or with `"pooling": "attention"` in config.json a masked softmax over
  `h·pool.query` as the pooling weights).
* `TorchEncoder(model_dir)`: the same function as a PyTorch module (F.linear, F.layer_norm,
  F.scaled_dot_product_attention), same inputs.

Architecture (src/model/nn.rs): token + learned position embeddings; pre-LN layers
`x + out(attn(ln1(x)))`, `x + down(act(up(ln2(x))))`; qkv projection laid out [q | k | v], each
[heads, head_dim]; final LN; masked mean (or attention pooling); linear head to 3 logits (independent sigmoids).
"""

import json
import math
import os

import numpy as np
from safetensors.numpy import load_file


def load(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    # f16 files are widened to f32, exactly as verbovka widens them at load.
    weights = {k: v.astype(np.float32) for k, v in load_file(os.path.join(model_dir, "model.safetensors")).items()}
    return cfg, weights


def build_onnx(model_dir):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    cfg, w = load(model_dir)
    d, h, ff = cfg["d_model"], cfg["n_heads"], cfg["d_ff"]
    dh = d // h
    eps = float(cfg["layer_norm_eps"])
    act = cfg["activation"]
    nodes, inits = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.array(arr, order="C", copy=True), name))
        return name

    def const(name, values, dtype=np.int64):
        return init(name, np.array(values, dtype=dtype))

    n = [0]

    def node(op, inputs, **attrs):
        n[0] += 1
        out = f"{op.lower()}_{n[0]}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def linear(x, prefix):
        y = node("MatMul", [x, init(prefix + ".wT", w[prefix + ".weight"].T)])
        if prefix + ".bias" in w:
            y = node("Add", [y, init(prefix + ".b", w[prefix + ".bias"])])
        return y

    def layer_norm(x, prefix):
        return node(
            "LayerNormalization",
            [x, init(prefix + ".w", w[prefix + ".weight"]), init(prefix + ".b", w[prefix + ".bias"])],
            axis=-1,
            epsilon=eps,
        )

    # embeddings
    word = node("Gather", [init("word", w["embeddings.word"]), "ids"], axis=0)
    shape_ids = node("Shape", ["ids"])
    t = node("Gather", [shape_ids, const("one", [1])], axis=0)  # [T]
    pos = node("Slice", [init("position", w["embeddings.position"]), const("zero", [0]), t, const("axis0", [0])])
    x = node("Add", [word, pos])
    # mask bias [B,1,1,T]: 0 for tokens, -1e9 for padding
    mb = node("Mul", [node("Sub", ["mask", const("f_one", 1.0, np.float32)]), const("big", 1e9, np.float32)])
    mask_bias = node("Unsqueeze", [mb, const("ax12", [1, 2])])
    scale = const("scale", 1.0 / math.sqrt(dh), np.float32)
    for i in range(cfg["n_layers"]):
        p = f"layers.{i}"
        hn = layer_norm(x, p + ".ln1")
        qkv = linear(hn, p + ".attn.qkv")  # [B,T,3d]
        qkv = node("Reshape", [qkv, const(f"qkv_shape{i}", [0, 0, 3, h, dh])])
        qkv = node("Transpose", [qkv], perm=[2, 0, 3, 1, 4])  # [3,B,H,T,dh]
        q = node("Gather", [qkv, const(f"i0_{i}", 0)], axis=0)
        k = node("Gather", [qkv, const(f"i1_{i}", 1)], axis=0)
        v = node("Gather", [qkv, const(f"i2_{i}", 2)], axis=0)
        q = node("Mul", [q, scale])
        kt = node("Transpose", [k], perm=[0, 1, 3, 2])
        s = node("Add", [node("MatMul", [q, kt]), mask_bias])
        pr = node("Softmax", [s], axis=-1)
        ctx = node("MatMul", [pr, v])  # [B,H,T,dh]
        ctx = node("Transpose", [ctx], perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, const(f"ctx_shape{i}", [0, 0, d])])
        x = node("Add", [x, linear(ctx, p + ".attn.out")])
        hn = layer_norm(x, p + ".ln2")
        u = linear(hn, p + ".ff.up")
        if act == "relu":
            u = node("Relu", [u])
        elif act == "quick_gelu":
            u = node("Mul", [u, node("Sigmoid", [node("Mul", [u, const(f"qg{i}", 1.702, np.float32)])])])
        elif act == "gelu_erf":
            e = node("Erf", [node("Mul", [u, const(f"rs2_{i}", 1 / math.sqrt(2), np.float32)])])
            u = node("Mul", [node("Mul", [u, node("Add", [e, const(f"one_{i}", 1.0, np.float32)])]), const(f"half_{i}", 0.5, np.float32)])
        else:  # tanh gelu
            c = 0.7978845608
            u3 = node("Mul", [node("Mul", [u, u]), u])
            inner = node("Mul", [node("Add", [u, node("Mul", [u3, const(f"c1_{i}", 0.044715, np.float32)])]), const(f"c0_{i}", c, np.float32)])
            u = node("Mul", [node("Mul", [u, node("Add", [node("Tanh", [inner]), const(f"one_{i}", 1.0, np.float32)])]), const(f"half_{i}", 0.5, np.float32)])
        x = node("Add", [x, linear(u, p + ".ff.down")])
    hn = layer_norm(x, "final_ln")
    m3 = node("Unsqueeze", ["mask", const("ax2", [2])])
    if cfg.get("pooling", "mean") == "attention":
        scores = node("MatMul", [hn, init("pool.q", w["pool.query"].reshape(d, 1))])  # [B,T,1]
        bias = node("Mul", [node("Sub", [m3, const("f_one_p", 1.0, np.float32)]), const("big_p", 1e9, np.float32)])
        weights = node("Softmax", [node("Add", [scores, bias])], axis=1)
        pooled = node("ReduceSum", [node("Mul", [hn, weights]), const("ax1", [1])], keepdims=0)
    else:
        summed = node("ReduceSum", [node("Mul", [hn, m3]), const("ax1", [1])], keepdims=0)  # [B,d]
        count = node("ReduceSum", ["mask", const("ax1b", [1])], keepdims=1)  # [B,1]
        count = node("Max", [count, const("f_one_b", 1.0, np.float32)])
        pooled = node("Div", [summed, count])
    logits = node("Add", [node("MatMul", [pooled, init("head.wT", w["head.weight"].T)]), init("head.b", w["head.bias"])])
    nodes.append(helper.make_node("Identity", [logits], ["logits"]))
    graph = helper.make_graph(
        nodes,
        "verbovka",
        [
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["B", "T"]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["B", "T"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["B", 3])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="verbovka-peers")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def torch_encoder(model_dir):
    import torch
    import torch.nn.functional as F

    cfg, w = load(model_dir)
    d, h = cfg["d_model"], cfg["n_heads"]
    dh = d // h
    eps = float(cfg["layer_norm_eps"])
    act = cfg["activation"]
    T = {k: torch.from_numpy(v.copy()) for k, v in w.items()}

    def lin(x, p):
        return F.linear(x, T[p + ".weight"], T.get(p + ".bias"))

    def ln(x, p):
        return F.layer_norm(x, (d,), T[p + ".weight"], T[p + ".bias"], eps)

    class Encoder(torch.nn.Module):
        def forward(self, ids, mask):
            b, t = ids.shape
            x = F.embedding(ids, T["embeddings.word"]) + T["embeddings.position"][:t]
            keep = mask[:, None, None, :] > 0.5  # [B,1,1,T] bool, True = attend
            for i in range(cfg["n_layers"]):
                p = f"layers.{i}"
                qkv = lin(ln(x, p + ".ln1"), p + ".attn.qkv").view(b, t, 3, h, dh).permute(2, 0, 3, 1, 4)
                ctx = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=keep)
                x = x + lin(ctx.transpose(1, 2).reshape(b, t, d), p + ".attn.out")
                u = lin(ln(x, p + ".ln2"), p + ".ff.up")
                if act == "relu":
                    u = F.relu(u)
                elif act == "quick_gelu":
                    u = u * torch.sigmoid(1.702 * u)
                elif act == "gelu_erf":
                    u = F.gelu(u)
                else:
                    u = F.gelu(u, approximate="tanh")
                x = x + lin(u, p + ".ff.down")
            hn = ln(x, "final_ln")
            m = mask[:, :, None]
            if cfg.get("pooling", "mean") == "attention":
                scores = hn @ T["pool.query"][:, None] + (m - 1.0) * 1e9
                pooled = (hn * torch.softmax(scores, dim=1)).sum(1)
            else:
                pooled = (hn * m).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)
            return F.linear(pooled, T["head.weight"], T["head.bias"])

    return Encoder().eval()


def flops_per_post(cfg, t):
    """Multiply-adds ×2 of one post of `t` tokens (no padding): projections, attention, head."""
    d, ff, L = cfg["d_model"], cfg["d_ff"], cfg["n_layers"]
    per_layer = 2 * t * (3 * d * d + d * d + 2 * d * ff) + 2 * 2 * t * t * d
    return L * per_layer + 2 * d * 3
