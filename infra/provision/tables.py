"""A product's Glue table as Hive and Athena read it: its location under the product bucket
(`TABLE_PREFIX`, which the bucket policy's direct readers are limited to and a data contract
exports as the server location) and, per data format, its input and output formats, SerDe and
table parameters (`STORAGE_FORMATS`). Constants only: `infra.provision.components.DataProduct`
declares the table from them.
"""

from __future__ import annotations

from infra.model.spec import DataFormat

TABLE_PREFIX = "data/"  # every product's table location is s3://<bucket>/data/

# Hive/Glue storage definitions per format.
_TEXT_IN = "org.apache.hadoop.mapred.TextInputFormat"
_TEXT_OUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
STORAGE_FORMATS: dict[DataFormat, dict] = {
    DataFormat.parquet: {
        "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "serde": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "serde_parameters": {"serialization.format": "1"},
        "table_parameters": {"classification": "parquet", "parquet.compression": "SNAPPY"},
    },
    DataFormat.json: {
        "input_format": _TEXT_IN,
        "output_format": _TEXT_OUT,
        "serde": "org.openx.data.jsonserde.JsonSerDe",
        "serde_parameters": {"ignore.malformed.json": "FALSE"},
        "table_parameters": {"classification": "json"},
    },
    DataFormat.csv: {
        "input_format": _TEXT_IN,
        "output_format": _TEXT_OUT,
        "serde": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        "serde_parameters": {"field.delim": ",", "serialization.format": ","},
        "table_parameters": {"classification": "csv", "skip.header.line.count": "1"},
    },
}
