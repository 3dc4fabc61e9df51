"""clew's operator benchmarks: the controller as a real ``clew controller`` process against one
local control plane and a real Git HTTP server, acting as the restricted ServiceAccount.

- S3 commit → applied (webhook and polling paths), :mod:`bench.operator.s3`;
- S5 1,000 Applications of 4 objects each, all Ready, :mod:`bench.operator.s5`;
- S7 drift churn under self-heal, :mod:`bench.operator.s7`.

Entry point: ``python -m bench.operator.run``; it writes ``docs/benchmarks-operator.md``.
"""
