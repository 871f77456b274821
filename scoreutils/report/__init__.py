"""Reporting: what the kit's runs say, generated from their files, never typed.

- `paper`: the paper's numbers; `arms`: runs grouped by method and seed, and the two intervals every verdict reads;
- `verdicts`: the paper's claims and the rules that judge them; `reproduction`: `make reproduce`'s runs as
  lessons and README show them; `lessons`: the box that ends every lesson; `plots`: the figures.
"""
