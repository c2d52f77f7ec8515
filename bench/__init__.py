"""Imagehost's benchmark: `python -m bench` (see bench/README.md).

It runs `imagehost stack` and, beside it, the ceilings each figure is compared with: the same
Nginx configuration proxying to an app that discards bodies (`ceiling_app`), and Nginx serving
the same image files as plain static files. The `abuse` scenario attacks the stack and
`imagehost serve` from 127.0.0.2 (issue 12); `--baseline-worktree` measures another checkout's
stack interleaved with ours.
"""
