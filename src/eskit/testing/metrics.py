"""Reading Prometheus' text format in tests: one sample's value by name and labels."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Scrape"]


class Scrape:
    """The samples of one scrape of ``/metrics``, parsed with prometheus_client's parser."""

    def __init__(self, text: str) -> None:
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        self.families: set[str] = set()
        for family in text_string_to_metric_families(text):
            self.families.add(family.name)
            for sample in family.samples:
                key = (sample.name, frozenset(sample.labels.items()))
                self.samples[key] = sample.value

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        """The value of sample ``name`` with exactly ``labels``; 0 if it is absent (a
        labelled counter appears only once it was first incremented)."""
        return self.samples.get((name, frozenset((labels or {}).items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum of the samples ``name`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(v for (n, got), v in self.samples.items() if n == name and wanted <= got)

    def labelled(self, name: str, label: str) -> set[str]:
        """The values label ``label`` takes in the samples ``name``."""
        return {dict(got)[label] for (n, got) in self.samples if n == name and label in dict(got)}
