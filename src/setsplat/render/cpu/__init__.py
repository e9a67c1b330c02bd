"""Our differentiable CPU rasterizer: numba kernels behind two autograd Functions."""
