"""Data (L2 domain): sources, immutable dataset versions, schema inference and validation.

Files (CSV, Parquet, JSON lines; gzip/zstd), SQL tables and in-memory frames are ingested as content-addressed
Parquet dataset versions; a schema inferred from a reference validates every new batch, and findings with a
severity (``info``, ``warn``, ``fail``) decide whether the batch may reach training.
"""

from ctml.data._datasets import Datasets, IngestResult, Progress
from ctml.data._digest import ContentDigest, digest_table
from ctml.data._findings import SEVERITIES, Finding, Report, Severity
from ctml.data._formats import FORMATS, ReadOptions, detect_format, read_batches, read_table
from ctml.data._ingest import Outcome
from ctml.data._profile import ColumnProfile, Profile
from ctml.data._schema import ColumnSchema, Expectations, Schema, infer_schema, merge_schemas, schema_from_profile
from ctml.data._sources import Chunk, FileSource, MemorySource, Source, SqlSource, to_table
from ctml.data._validate import Validator, validate, validate_file
from ctml.data._windows import Window, parse_span

__all__ = [
    "FORMATS",
    "SEVERITIES",
    "Chunk",
    "ColumnProfile",
    "ColumnSchema",
    "ContentDigest",
    "Datasets",
    "Expectations",
    "FileSource",
    "Finding",
    "IngestResult",
    "MemorySource",
    "Outcome",
    "Profile",
    "Progress",
    "ReadOptions",
    "Report",
    "Schema",
    "Severity",
    "Source",
    "SqlSource",
    "Validator",
    "Window",
    "detect_format",
    "digest_table",
    "infer_schema",
    "merge_schemas",
    "parse_span",
    "read_batches",
    "read_table",
    "schema_from_profile",
    "to_table",
    "validate",
    "validate_file",
]
