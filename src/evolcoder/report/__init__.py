"""``evolcoder report``: the paper's figures and tables from experiment folders, beside the published numbers."""
