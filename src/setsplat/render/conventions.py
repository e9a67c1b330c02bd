"""The rasterization conventions every backend follows (3DGS / gsplat)."""

TILE_SIZE = 16
TILE_SHIFT = TILE_SIZE.bit_length() - 1  # pixel index in a tile -> its row
EPS2D = 0.3  # px² added to every projected covariance (low-pass "dilation")
ALPHA_THRESHOLD = 1.0 / 255.0  # a splat is skipped at a pixel below this alpha
MAX_ALPHA = 0.99  # alpha is clamped here, so nothing is perfectly opaque
MIN_TRANSMITTANCE = 1e-4  # a pixel stops before the splat that would take T below this
EXTEND = 3.33  # splat footprint half-size in standard deviations (capped by opacity)
MEDIAN_TRANSMITTANCE = 0.5  # median depth: the splat at which T first drops to this
