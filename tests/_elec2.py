"""A small slice of the Elec2 stream for tests that need real classification data (see tests/_data/README.md)."""

from pathlib import Path

ELEC2_10K = Path(__file__).parent / "_data" / "elec2.csv.gz"
"""The first 10,000 rows of Elec2 in time order (date, day, period, nswprice, nswdemand, vicprice, vicdemand,
transfer, class UP/DOWN); named like the full file because the backtest names its app after the file."""
