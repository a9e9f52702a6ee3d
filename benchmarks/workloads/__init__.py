"""One module per workload; each has ``run(settings, backend, cluster, tmp, out)``, which
measures eskit and its contenders side by side and appends result rows to ``out``."""
