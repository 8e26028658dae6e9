"""BOHB with the lower budgets pooled into the model (mf_tpe, MFES-HB-like weights), for dev.py --extra.

Each variant is the bohb preset's searcher settings (multivariate, magic_clip 0.5) on Hyperband, with
``pool`` = how the per-budget TPE models combine: a mixture of densities, or a product of experts
(``log l/g = sum_b w_b log l_b/g_b``); weights = rank agreement with the reference budget (Kendall's tau,
clipped at 0), shrunk by ``n / (n + pool_shrink)`` shared configurations."""
_BOHB = {"multivariate": True, "magic_clip": 0.5}
add_variant("bohb_poolmix", "hyperband", "mf_tpe", {**_BOHB, "pool": "mixture"})  # noqa: F821
add_variant("bohb_poolprod", "hyperband", "mf_tpe", {**_BOHB, "pool": "product"})  # noqa: F821
add_variant("bohb_mf_none", "hyperband", "mf_tpe", {**_BOHB, "pool": "none"})  # noqa: F821  sanity: = bohb
